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
// the folder named by "from". A step starts from whatever page the one
// before left. browser.mjs launches the browser, runs the steps and keeps
// a screenshot of each (and the page, on a failure) in the artifacts
// folder; a failed step makes the exit status 1.

import { commandLine, drive } from "./browser.mjs";

const { opts, args } = commandLine("webmail");

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

drive({ opts, args, password: "WEBMAIL_PASSWORD", steps });
