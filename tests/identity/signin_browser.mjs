// A person in Debian's headless chromium (playwright-core), for the identity tests. Prints one
// JSON object: the pages seen (URL, status, title, text, security headers) and where it ended.
//
// Usage: node signin_browser.mjs '<json spec>'    (one run)
//        node signin_browser.mjs                  (one spec per stdin line, one JSON line each;
//                                                  one chromium for all: it starts slowly)
//   mode: "authorize" (default) | "page" | "signout" | "frame" | "connect"
//         connect: from a portal page, sign in with the dev sign-in (as `account`), press
//         Connect of `server` on the connections page, go on to the upstream's authorization
//         server and end on the portal's /oauth/upstream/callback page
//   url:      where to start (authorize: the portal's /authorize URL; page/signout: a portal page;
//             frame: the page another origin tries to frame)
//   idp:      the identity provider's origin; portal: the portal's origin
//   account:  the name typed into the provider's login page (any name works there)
//   consent:  "allow" | "deny" | "stop" (stop at the portal's consent page) [allow]
//   stopAt:   the client's redirect URI: requests to it are answered here (no server needed)
//             and end the flow; absent: the flow ends on the first page nobody asks to click
//   state:    a file keeping the browser's cookies between runs (read if present, then written)
//   tamper:   {"param": "state", "value": "..."}: rewrite that query parameter of the
//             provider's redirect to <portal>/auth/callback (a forged or mixed-up response)
//   hint:     {"origin": "...", "value": "..."}: add login_hint=value to requests to that
//             origin's /auth (the test authorization server signs in the hinted account)
//   screenshots: a folder: one PNG per page seen
//
// Only loopback origins are reached: any other request is aborted (the provider's built-in
// pages @import web fonts), and the host resolver resolves nothing.
import { existsSync, mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const MAX_STEPS = 12;
const STEP_TIMEOUT_MS = 20000;
const EVIL_ORIGIN = "http://framer.evil.test";

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
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
  ],
});


function isLoopback(url) {
  const host = new URL(url).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]";
}

async function run(spec) {
  const mode = spec.mode || "authorize";
  const out = { mode, pages: [], blocked: [], console: [], final: null, callback: null };

  async function record(page, response, what) {
    const headers = response ? await response.allHeaders() : {};
    const entry = {
      what,
      url: page.url(),
      status: response ? response.status() : null,
      title: await page.title().catch(() => ""),
      text: (await page.innerText("body").catch(() => "")).slice(0, 4000),
      csp: headers["content-security-policy"] || null,
      xfo: headers["x-frame-options"] || null,
      cacheControl: headers["cache-control"] || null,
    };
    out.pages.push(entry);
    if (spec.screenshots) {
      mkdirSync(spec.screenshots, { recursive: true });
      const name = `${String(out.pages.length).padStart(2, "0")}-${what}.png`;
      await page.screenshot({ path: `${spec.screenshots}/${name}`, fullPage: true });
    }
    return entry;
  }

  // Click and wait for the navigation it causes (redirect chains end in one load).
  async function clickAndLoad(page, locator) {
    const [response] = await Promise.all([
      page.waitForNavigation({ waitUntil: "load", timeout: STEP_TIMEOUT_MS }),
      locator.click(),
    ]);
    return response;
  }

  function button(page, name) {
    return page.getByRole("button", { name, exact: false }).first();
  }

  async function visible(locator) {
    return (await locator.count()) > 0 && (await locator.isVisible());
  }

  // One step on whatever page the browser is on; false when nothing is left to click.
  async function step(page) {
    const url = page.url();
    if (spec.stopAt && url.startsWith(spec.stopAt)) return null;
    const origin = new URL(url).origin;
    if (spec.idp && origin === spec.idp) {
      if (await visible(page.locator('input[name="login"]'))) {
        await page.fill('input[name="login"]', spec.account);
        await page.fill('input[name="password"]', "any password");
        return [await clickAndLoad(page, button(page, "Sign-in")), "idp-consent-or-next"];
      }
      if ((await page.locator('input[name="prompt"][value="consent"]').count()) > 0) {
        return [await clickAndLoad(page, button(page, "Continue")), "after-idp-consent"];
      }
      if (await visible(button(page, "Yes, sign me out"))) {
        return [await clickAndLoad(page, button(page, "Yes, sign me out")), "after-idp-logout"];
      }
      return null;
    }
    if (spec.portal && origin === spec.portal && mode === "connect") return connectStep(page);
    if (spec.portal && origin === spec.portal && mode === "authorize") {
      const allow = button(page, /^\s*allow\b/i);
      const deny = button(page, /^\s*deny\b/i);
      if ((await visible(allow)) && (await visible(deny))) {
        out.consentPage = out.pages[out.pages.length - 1];
        const choice = spec.consent || "allow";
        if (choice === "stop") return null;
        return [await clickAndLoad(page, choice === "deny" ? deny : allow), `after-${choice}`];
      }
    }
    return null;
  }

  // The portal's pages on the way to an upstream connection; none once the callback is shown.
  async function connectStep(page) {
    if (new URL(page.url()).pathname === "/oauth/upstream/callback") return null;
    if (await visible(page.locator('form[action="/auth/dev"] input[name="email"]'))) {
      await page.fill('input[name="email"]', spec.account);
      return [await clickAndLoad(page, page.locator("#sign-in")), "after-dev-sign-in"];
    }
    const connect = page.locator(`li[data-server="${spec.server}"] button.connect`);
    if (await visible(connect)) return [await clickAndLoad(page, connect), "after-connect"];
    const onward = page.locator("a#continue");
    if (await visible(onward)) return [await clickAndLoad(page, onward), "after-continue"];
    return null;
  }

  async function drive(context) {
    const page = await context.newPage();
    // Requests are steered through the DevTools protocol's Fetch domain rather than
    // page.route(): that one does not see the hops of a redirect chain, and the provider reaches
    // the portal's callback and the client's redirect URI through redirects.
    const cdp = await context.newCDPSession(page);
    cdp.on("Fetch.requestPaused", async ({ requestId, request }) => {
      const url = request.url;
      const fulfill = (body) =>
        cdp.send("Fetch.fulfillRequest", {
          requestId,
          responseCode: 200,
          responseHeaders: [{ name: "Content-Type", value: "text/html; charset=utf-8" }],
          body: Buffer.from(body).toString("base64"),
        });
      try {
        if (spec.stopAt && url.startsWith(spec.stopAt)) {
          out.callback = url;
          return await fulfill("<p>client callback</p>");
        }
        if (url.startsWith(EVIL_ORIGIN)) {
          return await fulfill(
            `<!DOCTYPE html><title>framer</title><iframe id="f" src="${spec.url}" width="800" height="600"></iframe>`,
          );
        }
        if (!isLoopback(url)) {
          out.blocked.push(new URL(url).origin);
          return await cdp.send("Fetch.failRequest", { requestId, errorReason: "BlockedByClient" });
        }
        const hinted = spec.hint && url.startsWith(`${spec.hint.origin}/auth?`);
        if (hinted && !new URL(url).searchParams.has("login_hint")) {
          const changed = new URL(url);
          changed.searchParams.set("login_hint", spec.hint.value);
          return await cdp.send("Fetch.continueRequest", { requestId, url: changed.href });
        }
        if (spec.tamper && spec.portal && url.startsWith(`${spec.portal}/auth/callback`)) {
          const changed = new URL(url);
          changed.searchParams.set(spec.tamper.param, spec.tamper.value);
          out.tampered = { from: url, to: changed.href };
          return await cdp.send("Fetch.continueRequest", { requestId, url: changed.href });
        }
        return await cdp.send("Fetch.continueRequest", { requestId });
      } catch (e) {
        out.console.push(`fetch interception: ${e}`);
      }
    });
    await cdp.send("Fetch.enable", { patterns: [{ urlPattern: "*", requestStage: "Request" }] });
    page.on("console", (m) => out.console.push(m.text()));
    page.on("pageerror", (e) => out.console.push(String(e)));

    if (mode === "frame") {
      await page.goto(`${EVIL_ORIGIN}/`);
      await page.waitForTimeout(1500);
      const child = page.frames().find((f) => f !== page.mainFrame());
      out.frame = {
        url: child ? child.url() : null,
        text: child ? await child.innerText("body").catch(() => null) : null,
      };
    } else {
      let response = await page.goto(spec.url, { timeout: STEP_TIMEOUT_MS });
      let what = mode === "authorize" || mode === "connect" ? "start" : "page";
      await record(page, response, what);
      if (mode === "signout") {
        const signOut = button(page, /^\s*sign out\b/i);
        out.signOutButton = await visible(signOut);
        if (out.signOutButton) {
          response = await clickAndLoad(page, signOut);
          await record(page, response, "after-sign-out");
        }
      }
      if (mode !== "page") {
        for (let i = 0; i < MAX_STEPS; i++) {
          const next = await step(page);
          if (!next) break;
          [response, what] = next;
          await record(page, response, what);
        }
      }
    }
    out.final = page.url();
    if (spec.state) await context.storageState({ path: spec.state });
  }

  const context = await browser.newContext({
    viewport: { width: 1000, height: 800 },
    storageState: spec.state && existsSync(spec.state) ? spec.state : undefined,
  });
  try {
    await drive(context);
  } catch (e) {
    // What was seen up to the failure is the useful part of the report.
    out.error = String(e && e.stack ? e.stack : e);
  } finally {
    await context.close();
  }
  return out;
}

try {
  if (process.argv[2]) {
    console.log(JSON.stringify(await run(JSON.parse(process.argv[2]))));
  } else {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim()) continue;
      console.log(JSON.stringify(await run(JSON.parse(line))));
    }
  }
} finally {
  await browser.close();
}
