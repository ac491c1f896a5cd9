// Drives the web calendar in Debian's headless Chromium (Playwright's
// playwright-core, no browser download) as a person would: the links and
// fields by their visible names, real clicks. web_calendar.py starts the
// server and checks every outcome over CalDAV; this script only works the
// pages.
//
//   CALENDAR_PASSWORD=... node web_calendar.mjs --url https://localhost:PORT \
//       --user alice@example.test --ca certs/main.crt.pem --zone Europe/Berlin \
//       --artifacts target/browser-artifacts --name TEST 'STEP-JSON'...
//
// Steps: {"do": "login"} (then the Calendar link of the mail pages) |
// {"do": "create_in_week", date, day_label, title, location} (the "+" of
// 10:00 on that day in the week view, the form, Save) | {"do":
// "see_in_week", date, title, time}. The browser runs in --zone, which
// the calendar's own script picks up on the first calendar page. A
// screenshot of every step goes to the artifacts folder; on a failure the
// page's screenshot and HTML go there too and the exit status is 1.

import { createHash, X509Certificate } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// Chromium's own background connections go nowhere on a closed network.
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
    zone: { type: "string", default: "Europe/Berlin" },
    artifacts: { type: "string", default: "target/browser-artifacts" },
    name: { type: "string", default: "calendar" },
  },
  allowPositionals: true,
});

// Accept exactly the run's own keys (by SPKI hash) instead of turning
// certificate checks off, so the page keeps a secure context for the
// `__Host-` cookies.
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
    this.pageErrors = [];
    // Pages and what they load (the style sheet, the zone script) must
    // all be found; the browser's own favicon request may not be.
    page.on("response", (r) => {
      if (r.status() >= 400 && new URL(r.url()).pathname !== "/favicon.ico") {
        this.badAnswers.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
      }
    });
    // A script the security policy blocks, or one that throws, shows here.
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) this.pageErrors.push(m.text());
    });
    page.on("pageerror", (e) => this.pageErrors.push(String(e)));
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

  check() {
    if (this.badAnswers.length > 0) throw new Error(`pages answered with an error: ${this.badAnswers.join("; ")}`);
    if (this.pageErrors.length > 0) throw new Error(`errors in the page: ${this.pageErrors.join("; ")}`);
  }
}

/** Opens the week of `date`, in the browser's zone. */
async function week(run, date) {
  const { page } = run;
  await page.goto(new URL(`/calendar/week?date=${date}`, opts.url).href);
  await run.see(page.getByText(`Times in ${opts.zone}`), `"Times in ${opts.zone}"`);
  await run.see(page.getByRole("table"), "the week grid");
}

const steps = {
  async login(run) {
    const { page } = run;
    await page.goto(new URL("/login", opts.url).href);
    await page.getByLabel("E-mail address").fill(opts.user);
    await page.getByLabel("Password").fill(process.env.CALENDAR_PASSWORD);
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await run.see(page.getByRole("navigation", { name: "Folders" }), "the mail pages after logging in");
    await page.getByRole("link", { name: "Calendar", exact: true }).click();
    await run.see(page.getByRole("navigation", { name: "Calendar" }), "the calendar after the Calendar link");
    // The first calendar page submits the browser's zone once (the
    // calendar's script); the page comes back in that zone.
    await run.see(page.getByText(`Times in ${opts.zone}`), `"Times in ${opts.zone}", preset from the browser`);
    await run.shot("calendar");
  },

  async create_in_week(run, step) {
    const { page } = run;
    await week(run, step.date);
    await run.shot("week-before");
    await page.getByRole("link", { name: `New event on ${step.day_label} at 10:00`, exact: true }).click();
    await run.see(page.getByRole("heading", { level: 1, name: "New event" }), "the new event form");
    const start = await page.getByLabel("Starts").inputValue();
    if (start !== step.date) throw new Error(`the form starts on ${start}, not ${step.date}`);
    const time = await page.getByLabel("Start time").inputValue();
    if (time !== "10:00") throw new Error(`the form starts at ${time}, not 10:00`);
    const zone = await page.getByLabel("Time zone").inputValue();
    if (zone !== opts.zone) throw new Error(`the form's zone is ${zone}, not ${opts.zone}`);
    await page.getByLabel("Title", { exact: true }).fill(step.title);
    await page.getByLabel("Location", { exact: true }).fill(step.location);
    await run.shot("form-filled");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await run.see(page.getByRole("heading", { level: 1, name: /^Week of / }), "the week after saving");
    await run.see(page.getByRole("link", { name: new RegExp(`10:00–11:00 ${step.title}`) }), `"${step.title}" at 10:00 in the week`);
    await run.shot("week-after");
  },

  async see_in_week(run, step) {
    const { page } = run;
    await week(run, step.date);
    await run.see(page.getByRole("link", { name: new RegExp(`${step.time} ${step.title}`) }), `"${step.title}" at ${step.time} in the week`);
    await run.shot("week-seen");
  },
};

async function main() {
  for (const k of ["url", "user", "ca"]) {
    if (!opts[k]) throw new Error(`--${k} is required`);
  }
  if (!process.env.CALENDAR_PASSWORD) throw new Error("CALENDAR_PASSWORD is required");
  const plan = positionals.map((p) => JSON.parse(p));
  for (const s of plan) {
    if (!steps[s.do]) throw new Error(`unknown step ${JSON.stringify(s.do)}`);
  }
  mkdirSync(opts.artifacts, { recursive: true });
  // A run's pictures replace the last run's of the same name.
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
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, timezoneId: opts.zone });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    const run = new Run(page, opts.artifacts, opts.name);
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

main().catch((e) => {
  console.error(`FAILED: ${e.stack || e}`);
  process.exitCode = 1;
});
