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
// the calendar's own script picks up on the first calendar page.
// browser.mjs launches the browser, runs the steps and keeps a screenshot
// of each (and the page, on a failure) in the artifacts folder; a failed
// step makes the exit status 1.

import { commandLine, drive, Run } from "./browser.mjs";

const { opts, args } = commandLine("calendar", { zone: { type: "string", default: "Europe/Berlin" } });

/** The calendar's pages are held to more than the mail pages: what they
 * load must be found too, and their scripts must run without an error. */
class CalendarRun extends Run {
  watch() {
    this.pageErrors = [];
    // Pages and what they load (the style sheet, the zone script) must
    // all be found; the browser's own favicon request may not be.
    this.page.on("response", (r) => {
      if (r.status() >= 400 && new URL(r.url()).pathname !== "/favicon.ico") {
        this.badAnswers.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
      }
    });
    // A script the security policy blocks, or one that throws, shows here.
    this.page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) this.pageErrors.push(m.text());
    });
    this.page.on("pageerror", (e) => this.pageErrors.push(String(e)));
  }

  check() {
    super.check();
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

drive({
  opts,
  args,
  password: "CALENDAR_PASSWORD",
  steps,
  RunClass: CalendarRun,
  context: { viewport: { width: 1400, height: 900 }, timezoneId: opts.zone },
});
