// Drives the webmail in Debian's headless Chromium (Playwright's
// playwright-core, no browser download) the way a person would: labels,
// links and buttons by their visible names, real clicks, real file
// uploads. webmail.py starts the server, sends the mail and checks the
// outcome over IMAP; this script only works the pages.
//
//   WEBMAIL_PASSWORD=... node webmail.mjs --url https://localhost:PORT \
//       --user alice@example.test --ca certs/main.crt.pem \
//       --artifacts target/browser-artifacts --name TEST 'STEP-JSON'...
//
// Each STEP-JSON is one object: {"do": "login"} | {"do": "read", subject,
// body} | {"do": "reply", subject, text, attachment, to} | {"do": "move",
// subject, folder} | {"do": "delete", subject} | {"do": "create_folder",
// name}; read, move and delete take the message from the INBOX, or from
// the folder named by "from". A step starts from whatever page the one before left. A
// screenshot of every step goes to the artifacts folder; on a failure the
// page's screenshot and HTML go there too and the exit status is 1.

import { createHash, X509Certificate } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// The closed network of CI answers none of Chromium's own background
// connections (updates, sync, safe browsing...); without these flags it
// keeps retrying them. Playwright adds --headless and a fresh profile.
const QUIET_CHROMIUM = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const { values: opts, positionals } = parseArgs({
  options: {
    url: { type: "string" },
    user: { type: "string" },
    ca: { type: "string" },
    artifacts: { type: "string", default: "target/browser-artifacts" },
    name: { type: "string", default: "webmail" },
  },
  allowPositionals: true,
});

// The server's certificate comes from a CA made for this one run. Rather
// than turning certificate checks off (`ignoreHTTPSErrors`), Chromium is
// told to accept exactly the keys in that PEM file, by the SHA-256 of
// their SubjectPublicKeyInfo: a server presenting any other key still
// fails, and the page keeps a secure context, which the `__Host-` session
// cookie needs. Chromium honours this flag only with its own profile
// directory, which Playwright always gives it.
function spkiPins(pemFile) {
  const pem = readFileSync(pemFile, "utf8");
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) || [];
  if (blocks.length === 0) throw new Error(`no certificate in ${pemFile}`);
  return blocks.map((b) => {
    const spki = new X509Certificate(b).publicKey.export({ type: "spki", format: "der" });
    return createHash("sha256").update(spki).digest("base64");
  });
}

class Run {
  constructor(page, dir, name) {
    this.page = page;
    this.dir = dir;
    this.name = name;
    this.shots = 0;
    this.badAnswers = [];
    // Every page the browser navigates to must be a success: a 4xx or
    // 5xx after a click is a failure even if the page looks fine.
    page.on("response", (r) => {
      if (r.request().isNavigationRequest() && r.status() >= 400) {
        this.badAnswers.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
      }
    });
  }

  async shot(label) {
    this.shots += 1;
    const file = join(this.dir, `${this.name}-${String(this.shots).padStart(2, "0")}-${label}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    console.log(`screenshot ${file}`);
  }

  /** Waits until `locator` shows; `what` names it in the failure. */
  async see(locator, what) {
    try {
      await locator.first().waitFor({ state: "visible" });
    } catch (e) {
      const errors = this.badAnswers.length ? `; error answers: ${this.badAnswers.join("; ")}` : "";
      throw new Error(`not shown on ${this.page.url()}: ${what} (${e.message.split("\n")[0]})${errors}`);
    }
  }

  async gone(locator, what) {
    try {
      await locator.waitFor({ state: "detached" });
    } catch (e) {
      throw new Error(`still shown on ${this.page.url()}: ${what}`);
    }
  }

  checkAnswers() {
    if (this.badAnswers.length > 0) {
      throw new Error(`pages answered with an error: ${this.badAnswers.join("; ")}`);
    }
  }
}

const steps = {
  async login(run, step) {
    const { page } = run;
    await page.goto(new URL("/login", opts.url).href);
    await run.see(page.getByRole("heading", { name: "Log in" }), "the login heading");
    await page.getByLabel("E-mail address").fill(opts.user);
    await page.getByLabel("Password").fill(process.env.WEBMAIL_PASSWORD);
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await run.see(page.getByRole("navigation", { name: "Folders" }), "the folder list after logging in");
    await run.see(page.getByText(opts.user, { exact: true }), "the logged-in address");
    await run.shot("logged-in");
  },

  /** Opens a folder (`from`, the INBOX by default) from the folder list,
   * then the message by its subject. */
  async open(run, step) {
    const { page } = run;
    const folder = step.from || "INBOX";
    await page.getByRole("navigation", { name: "Folders" }).getByRole("link", { name: folder, exact: true }).click();
    await run.see(page.getByRole("heading", { level: 1, name: folder, exact: true }), `the ${folder} heading`);
    await run.shot(`folder-${folder}`);
    await page.getByRole("link", { name: step.subject, exact: true }).click();
    await run.see(page.getByRole("heading", { level: 1, name: step.subject, exact: true }), `the subject "${step.subject}" as heading`);
  },

  async read(run, step) {
    await steps.open(run, step);
    for (const line of step.body.split("\n").filter((l) => l.trim())) {
      await run.see(run.page.getByText(line.trim()), `the body line "${line.trim()}"`);
    }
    await run.shot("read");
  },

  /** From the open message: Reply, write above the quote, attach a file, Send. */
  async reply(run, step) {
    const { page } = run;
    await page.getByRole("link", { name: "Reply", exact: true }).click();
    const form = page.locator("form", { has: page.getByRole("button", { name: "Send", exact: true }) });
    await run.see(form, "the compose form");
    const subject = await form.getByLabel("Subject", { exact: true }).inputValue();
    if (subject !== `Re: ${step.subject}`) throw new Error(`reply subject is ${JSON.stringify(subject)}, not "Re: ${step.subject}"`);
    const to = await form.getByLabel("To", { exact: true }).inputValue();
    if (!to.includes(step.to)) throw new Error(`reply goes to ${JSON.stringify(to)}, not ${step.to}`);
    const body = form.getByLabel("Message", { exact: true });
    const quoted = await body.inputValue();
    await body.fill(`${step.text}\n\n${quoted}`);
    await form.getByLabel("Attach files", { exact: true }).setInputFiles(step.attachment);
    await run.shot("reply-written");
    await form.getByRole("button", { name: "Send", exact: true }).click();
    await run.see(page.getByText("Message sent"), `"Message sent" after sending`);
    await run.shot("reply-sent");
  },

  async move(run, step) {
    const { page } = run;
    await steps.open(run, step);
    await page.getByLabel("Move to").selectOption(step.folder);
    await run.shot("move-chosen");
    await page.getByRole("button", { name: "Move", exact: true }).click();
    await run.see(page.getByRole("heading", { level: 1, name: step.from || "INBOX", exact: true }), "the folder after moving");
    await run.gone(page.getByRole("link", { name: step.subject, exact: true }), `the moved message "${step.subject}"`);
    await run.shot("moved");
  },

  async delete(run, step) {
    const { page } = run;
    await steps.open(run, step);
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await run.see(page.getByRole("heading", { level: 1, name: step.from || "INBOX", exact: true }), "the folder after deleting");
    await run.gone(page.getByRole("link", { name: step.subject, exact: true }), `the deleted message "${step.subject}"`);
    await run.shot("deleted");
  },

  async create_folder(run, step) {
    const { page } = run;
    await page.getByRole("link", { name: "Manage folders", exact: true }).click();
    await run.see(page.getByRole("heading", { level: 1, name: "Manage folders" }), "the folders page");
    await page.getByLabel("New folder").fill(step.name);
    await run.shot("folder-named");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await run.see(page.getByRole("cell", { name: step.name, exact: true }), `the new folder "${step.name}" in the table`);
    // The folder list is a tree: each folder shows the last level of its
    // name under its parent (a level that is no folder is plain text).
    const nav = page.getByRole("navigation", { name: "Folders" });
    const levels = step.name.split("/");
    const leaf = levels[levels.length - 1];
    await run.see(nav.getByRole("link", { name: leaf, exact: true }), `the new folder "${leaf}" in the folder list`);
    for (const parent of levels.slice(0, -1)) {
      await run.see(nav.getByText(parent, { exact: true }), `its parent level "${parent}" in the folder list`);
    }
    await run.shot("folder-created");
  },
};

async function main() {
  for (const k of ["url", "user", "ca"]) {
    if (!opts[k]) throw new Error(`--${k} is required`);
  }
  if (!process.env.WEBMAIL_PASSWORD) throw new Error("WEBMAIL_PASSWORD is required");
  const plan = positionals.map((p) => JSON.parse(p));
  for (const s of plan) {
    if (!steps[s.do]) throw new Error(`unknown step ${JSON.stringify(s.do)}`);
  }
  mkdirSync(opts.artifacts, { recursive: true });
  // A run's pictures replace the last run's of the same name, so an old
  // failure never sits beside a new success.
  for (const f of readdirSync(opts.artifacts)) {
    if (f.startsWith(`${opts.name}-`)) rmSync(join(opts.artifacts, f));
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...QUIET_CHROMIUM, `--ignore-certificate-errors-spki-list=${spkiPins(opts.ca).join(",")}`],
  });
  let failed = false;
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    const run = new Run(page, opts.artifacts, opts.name);
    try {
      for (const s of plan) {
        console.log(`step ${JSON.stringify(s)}`);
        await steps[s.do](run, s);
        run.checkAnswers();
      }
    } catch (e) {
      failed = true;
      console.error(`FAILED: ${e.message}`);
      const base = join(opts.artifacts, `${opts.name}-failed`);
      await page.screenshot({ path: `${base}.png`, fullPage: true }).catch(() => {});
      writeFileSync(`${base}.html`, await page.content().catch(() => ""));
      console.error(`page ${page.url()} saved as ${base}.png and ${base}.html`);
    }
  } finally {
    await browser.close();
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`FAILED: ${e.stack || e}`);
  process.exitCode = 1;
});
