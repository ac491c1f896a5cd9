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
// (a button of the box, then the texts on the page it leads to).
// browser.mjs launches the browser, runs the steps and keeps a screenshot
// of each (and the page, on a failure) in the artifacts folder; a failed
// step makes the exit status 1.

import { commandLine, drive, Run } from "./browser.mjs";

const { opts, args } = commandLine("invite");

class InviteRun extends Run {
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

drive({ opts, args, password: "WEBMAIL_PASSWORD", steps, RunClass: InviteRun });
