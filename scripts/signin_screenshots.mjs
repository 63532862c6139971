// Screenshots sign-in as a person lives it, for the README: the dev sign-in of the `signin`
// demo, the homepage signed in, then Sign out and its summary page.
// Usage: node scripts/signin_screenshots.mjs URL EMAIL GROUPS SIGNED_IN.png SIGNED_OUT.png [WIDTH]
// Chromium: $CHROMIUM_PATH or /usr/bin/chromium, driven by npm playwright-core.
// Prints one JSON line: the email shown when signed in and the summary's message.
import { chromium } from "playwright-core";

const [url, email, groups, signedIn, signedOut, width = "1000"] = process.argv.slice(2);
if (!url || !email || groups === undefined || !signedIn || !signedOut) {
  console.error(
    "usage: node scripts/signin_screenshots.mjs URL EMAIL GROUPS SIGNED_IN.png SIGNED_OUT.png [WIDTH]",
  );
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});

async function clickAndLoad(page, selector) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: "load", timeout: 20000 }),
    page.locator(selector).click(),
  ]);
  return response;
}

try {
  const context = await browser.newContext({
    viewport: { width: Number(width), height: 800 },
    deviceScaleFactor: 1,
    colorScheme: "light",
  });
  const page = await context.newPage();
  const home = await page.goto(url);
  if (home.status() !== 200) throw new Error(`${url} answered ${home.status()}`);
  await clickAndLoad(page, "#sign-in"); // the homepage's Sign in: to the dev sign-in page
  await page.fill("#email", email);
  await page.fill("#groups", groups);
  await clickAndLoad(page, "#sign-in"); // the dev page's Sign in: back to the homepage
  const account = (await page.locator("#account-email").innerText()).trim();
  const connected = (await page.locator("#connected").innerText()).trim();
  await page.screenshot({ path: signedIn, fullPage: true });
  await clickAndLoad(page, "#sign-out");
  const message = (await page.locator("#message").innerText()).trim();
  await page.setViewportSize({ width: Number(width), height: 260 }); // a short page: no blank
  await page.screenshot({ path: signedOut, fullPage: true });
  console.log(JSON.stringify({ account, connected, message, signedOutUrl: page.url() }));
} finally {
  await browser.close();
}
