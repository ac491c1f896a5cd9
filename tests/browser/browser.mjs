// What the browser scripts (webmail.mjs, web_calendar.mjs, invite.mjs)
// share: their command line, Debian's headless Chromium (Playwright's
// playwright-core, no browser download) made to trust the run's own CA,
// a page with screenshots of every step, and the loop that works the
// steps. Each script brings only its steps and what its pages must show.
//
// Every script takes --url https://localhost:PORT, --user, --ca (the
// run's CA, PEM), --artifacts (default target/browser-artifacts) and
// --name (a prefix for the screenshots), then one STEP-JSON object per
// argument, {"do": STEP, ...}; the Python drivers start every run with
// {"do": "login"}.
// A step starts from whatever page the one before left. A screenshot of
// every step goes to the artifacts folder; on a failure the page's
// screenshot and HTML go there too and the exit status is 1. CHROMIUM
// names the browser (default /usr/bin/chromium).

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

/** The command line: `{ opts, args }`, `args` the STEP-JSON texts.
 * `name` is the default --name; `extra` are a script's own options, in
 * parseArgs' form. */
export function commandLine(name, extra = {}) {
  const { values, positionals } = parseArgs({
    options: {
      url: { type: "string" },
      user: { type: "string" },
      ca: { type: "string" },
      ...extra,
      artifacts: { type: "string", default: "target/browser-artifacts" },
      name: { type: "string", default: name },
    },
    allowPositionals: true,
  });
  return { opts: values, args: positionals };
}

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

/** One browser page and what happened on it. A script whose pages must
 * pass other checks extends it: `watch` decides which answers count as
 * errors, `check` runs after every step. */
export class Run {
  constructor(page, dir, name) {
    Object.assign(this, { page, dir, name, shots: 0, badAnswers: [] });
    this.watch();
  }

  /** Called once, from the constructor. Every page the browser navigates
   * to must be a success: a 4xx or 5xx after a click is a failure even if
   * the page looks fine. */
  watch() {
    this.page.on("response", (r) => {
      if (r.request().isNavigationRequest() && r.status() >= 400) {
        this.badAnswers.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
      }
    });
  }

  /** After every step: throws if the step left an error behind. */
  check() {
    if (this.badAnswers.length > 0) {
      throw new Error(`pages answered with an error: ${this.badAnswers.join("; ")}`);
    }
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

  /** Waits until `locator` is no longer in the page. */
  async gone(locator, what) {
    try {
      await locator.waitFor({ state: "detached" });
    } catch (e) {
      throw new Error(`still shown on ${this.page.url()}: ${what}`);
    }
  }
}

/** Works the steps of the command line and sets the exit status.
 * `password`: the environment variable the login step reads; `steps`:
 * {name: async (run, step) => ...}; `RunClass`: Run or a script's own
 * extension of it; `context`: Playwright's browser context options. */
export function drive({ opts, args, password, steps, RunClass = Run, context = { viewport: { width: 1200, height: 800 } } }) {
  main(opts, args, password, steps, RunClass, context).catch((e) => {
    console.error(`FAILED: ${e.stack || e}`);
    process.exitCode = 1;
  });
}

async function main(opts, args, password, steps, RunClass, context) {
  for (const k of ["url", "user", "ca"]) {
    if (!opts[k]) throw new Error(`--${k} is required`);
  }
  if (!process.env[password]) throw new Error(`${password} is required`);
  const plan = args.map((p) => JSON.parse(p));
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
    const page = await (await browser.newContext(context)).newPage();
    page.setDefaultTimeout(15000);
    const run = new RunClass(page, opts.artifacts, opts.name);
    try {
      for (const s of plan) {
        console.log(`step ${JSON.stringify(s)}`);
        await steps[s.do](run, s);
        run.check();
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
