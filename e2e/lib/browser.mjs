// The browser side of the suite: Debian's chromium driven by playwright-core, the checks
// every page and error state goes through (axe-core, no sideways scroll at 320/360 px,
// touch targets), screenshots, and a driver that does a flow with the mouse or with the
// keyboard alone.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT } from "./stack.mjs";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const SHOTS = join(ROOT, "docs/screenshots");
const DESKTOP = { width: 1280, height: 900 };

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: the end-to-end tests need Debian's chromium.\n` +
        "  Install it with:  apt-get update && apt-get install -y chromium\n" +
        "  (or set CHROMIUM to another Chromium binary)",
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A fresh browser profile (cookies of its own), desktop-sized, in Spanish. */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: DESKTOP, locale: "es-CL" });
  return context.newPage();
}

const taken = new Set();

/**
 * What every page and error state must pass: axe-core (WCAG 2.0/2.1 A and AA) with zero
 * violations, no sideways scroll at 320 and 360 px, touch targets of at least 44 px; and
 * its screenshots (desktop and 360 px) into docs/screenshots/, once per name and run.
 */
export async function checkPage(page, name) {
  await page.waitForLoadState("load");
  await axe(page, name);
  const viewport = page.viewportSize();
  for (const width of [320, 360]) {
    await page.setViewportSize({ width, height: 740 });
    const wide = await page.evaluate(() => ({
      scroll: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
      inner: window.innerWidth,
      culprits: [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 5)
        .map((e) => e.outerHTML.slice(0, 120)),
    }));
    assert.ok(wide.scroll <= wide.inner, `${name}: ${wide.scroll} px wide at ${width} px: ${wide.culprits.join("\n")}`);
    if (width === 360) {
      await touchTargets(page, name);
      await shot(page, name, "360");
    }
  }
  await page.setViewportSize(viewport);
  await shot(page, name, "escritorio");
}

async function axe(page, name) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.html).join("\n    ")}`);
  });
  assert.deepEqual(violations, [], `${name}: axe-core found:\n${violations.join("\n")}`);
}

/** Every visible control, and every link outside running text, is at least 44 × 44 px
 *  (a checkbox counts by its label). Links inside a sentence are WCAG's inline exception. */
async function touchTargets(page, name) {
  const small = await page.evaluate(() => {
    const visible = (e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden";
    };
    const targets = [...document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea")]
      .filter(visible)
      .map((e) => (e.type === "checkbox" || e.type === "radio") && e.closest("label") ? e.closest("label") : e);
    return targets
      .filter((e) => {
        const r = e.getBoundingClientRect();
        return r.height < 44 || r.width < 44;
      })
      .map((e) => `${e.outerHTML.slice(0, 100)} (${Math.round(e.getBoundingClientRect().width)}×${Math.round(e.getBoundingClientRect().height)})`);
  });
  assert.deepEqual(small, [], `${name}: touch targets under 44 px at 360 px`);
}

async function shot(page, name, suffix) {
  const key = `${name}-${suffix}`;
  if (taken.has(key) || process.env.E2E_SCREENSHOTS === "0") return;
  taken.add(key);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${key}.png`), fullPage: true, animations: "disabled", caret: "hide" });
}

/**
 * Does what a person does on a page, in one of two ways: `mouse` (clicks and typing) or
 * `keyboard` (Tab, Shift+Tab, Enter and Space only, with the focus visible at every step).
 */
export function driver(page, mode) {
  const keyboard = mode === "keyboard";

  /** Moves the focus to `selector` with Tab (or Shift+Tab when it is behind). */
  const tabTo = async (selector) => {
    await page.locator(selector).first().waitFor({ state: "visible" });
    for (let i = 0; i < 300; i++) {
      const where = await page.evaluate((sel) => {
        const target = document.querySelector(sel);
        const active = document.activeElement;
        if (!target) return "missing";
        if (active === target) return "here";
        if (!active || active === document.body) return "after";
        return active.compareDocumentPosition(target) & Node.DOCUMENT_POSITION_PRECEDING ? "before" : "after";
      }, selector);
      if (where === "missing") throw new Error(`${selector} is not on ${page.url()}`);
      if (where === "here") return;
      await page.keyboard.press(where === "before" ? "Shift+Tab" : "Tab");
      await assertFocusVisible(page);
    }
    throw new Error(`Tab never reached ${selector} on ${page.url()}`);
  };

  return {
    mode,
    tabTo,
    async fill(selector, value) {
      if (keyboard) {
        await tabTo(selector);
        await page.keyboard.press("Control+A");
        await page.keyboard.press("Delete");
        await page.keyboard.type(value);
      } else {
        await page.click(selector);
        await page.fill(selector, value);
      }
    },
    async select(selector, value) {
      if (!keyboard) return void (await page.selectOption(selector, value));
      await tabTo(selector);
      const [from, to] = await page.evaluate(([sel, v]) => {
        const s = document.querySelector(sel);
        const enabled = [...s.options].filter((o) => !o.disabled && !o.parentElement.disabled);
        return [enabled.indexOf(s.options[s.selectedIndex]), enabled.findIndex((o) => o.value === v)];
      }, [selector, value]);
      assert.ok(to >= 0, `${selector} has no option ${value}`);
      for (let i = from; i < to; i++) await page.keyboard.press("ArrowDown");
      for (let i = from; i > to; i--) await page.keyboard.press("ArrowUp");
      assert.equal(await page.inputValue(selector), value);
    },
    async check(selector) {
      if (!keyboard) return void (await page.check(selector));
      await tabTo(selector);
      await page.keyboard.press("Space");
      assert.ok(await page.isChecked(selector));
    },
    /** Activates a button or link and waits for the page it leads to. */
    async press(selector, { key = "Enter" } = {}) {
      const navigated = page.waitForNavigation({ waitUntil: "load" });
      if (keyboard) {
        await tabTo(selector);
        await page.keyboard.press(key);
      } else {
        await page.click(selector);
      }
      await navigated;
    },
    /** Presses Enter in a field: the form's main action. */
    async enterIn(selector) {
      const navigated = page.waitForNavigation({ waitUntil: "load" });
      if (keyboard) await tabTo(selector);
      else await page.click(selector);
      await page.keyboard.press("Enter");
      await navigated;
    },
  };
}

/** The focused element shows it: an outline or a focus ring. */
export async function assertFocusVisible(page) {
  const focus = await page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body) return { ok: false, what: "nothing focused" };
    const s = getComputedStyle(e);
    const ok = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
    return { ok, what: e.outerHTML.slice(0, 100) };
  });
  assert.ok(focus.ok, `focus not visible on ${page.url()}: ${focus.what}`);
}
