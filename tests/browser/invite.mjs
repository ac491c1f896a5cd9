// Drives the webmail's invitation box in Debian's headless Chromium
// (playwright-core, no browser download) as a person would: the message
// found in the INBOX by its subject, the box read, a button clicked by
// its visible name. invite.py starts the server, sends the invitation
// and checks every outcome over CalDAV and IMAP; this script only works
// the pages.
//
//   WEBMAIL_PASSWORD=... node invite.mjs --url https://localhost:PORT \
//       --user bob@example.test --ca certs/main.crt.pem \
//       --artifacts target/browser-artifacts --name TEST 'STEP-JSON'...
//
// Each STEP-JSON is one object: {"do": "login"} | {"do": "open", subject,
// box, see: [text...]} (the message opened, its box titled `box` shown
// with every text of `see`) | {"do": "click", button, see: [text...]}
// (a button of the box, then the texts on the page it leads to). A
// screenshot of every step goes to the artifacts folder; on a failure the
// page's screenshot and HTML go there too and the exit status is 1.

import { createHash, X509Certificate } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// Chromium's own background connections find no answer on a closed
// network; these flags stop it from retrying them.
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
    name: { type: "string", default: "invite" },
  },
  allowPositionals: true,
});

// The run's own CA: Chromium accepts exactly its keys (SHA-256 of the
// SubjectPublicKeyInfo), not any certificate, so the page stays a secure
// context for the `__Host-` session cookie.
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
    Object.assign(this, { page, dir, name, shots: 0, badAnswers: [] });
    // A page answering 4xx or 5xx after a click fails the run, however
    // it looks.
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

  async see(locator, what) {
    try {
      await locator.first().waitFor({ state: "visible" });
    } catch (e) {
      const errors = this.badAnswers.length ? `; error answers: ${this.badAnswers.join("; ")}` : "";
      throw new Error(`not shown on ${this.page.url()}: ${what} (${e.message.split("\n")[0]})${errors}`);
    }
  }

  /** The invitation box: a region named by its title. */
  box(title) {
    return this.page.getByRole("region", { name: title, exact: true });
  }

  async seeAll(within, texts) {
    for (const t of texts || []) await this.see(within.getByText(t), `"${t}"`);
  }
}

const steps = {
  async login(run) {
    const { page } = run;
    await page.goto(new URL("/login", opts.url).href);
    await page.getByLabel("E-mail address").fill(opts.user);
    await page.getByLabel("Password").fill(process.env.WEBMAIL_PASSWORD);
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await run.see(page.getByRole("navigation", { name: "Folders" }), "the folder list after logging in");
    await run.shot("logged-in");
  },

  async open(run, step) {
    const { page } = run;
    await page.getByRole("navigation", { name: "Folders" }).getByRole("link", { name: "INBOX", exact: true }).click();
    await page.getByRole("link", { name: step.subject, exact: true }).click();
    await run.see(page.getByRole("heading", { level: 1, name: step.subject, exact: true }), `the message "${step.subject}"`);
    const box = run.box(step.box);
    await run.see(box, `the box "${step.box}"`);
    run.current = step.box;
    await run.seeAll(box, step.see);
    await run.shot("opened");
  },

  async click(run, step) {
    const box = run.box(run.current);
    await box.getByRole("button", { name: step.button, exact: true }).click();
    await run.page.waitForLoadState("load");
    await run.seeAll(run.box(run.current), step.see);
    await run.shot(`clicked-${step.button.replace(/\W+/g, "-").toLowerCase()}`);
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
        if (run.badAnswers.length > 0) {
          throw new Error(`pages answered with an error: ${run.badAnswers.join("; ")}`);
        }
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
