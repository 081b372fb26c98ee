// A throw-away CUS for one test file: the binary cargo built (target/debug/cus), a fresh
// SQLite database, the in-process cache and an outbox folder in a temporary folder, the
// test captcha answer, and the example portal registered as a client and running beside it.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
// captcha.test_answer: always accepted by this instance. Not digits, so a test that types
// the digits it heard is checked against the real code.
export const CAPTCHA = "prueba";
const BIN = process.env.CUS_BIN ?? join(ROOT, "target/debug/cus");
const PORTAL_BIN = process.env.CUS_PORTAL_BIN ?? join(ROOT, "target/debug/cus-example-portal");

const freePort = () =>
  new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });

async function waitFor(url, proc, log) {
  for (let i = 0; i < 150; i++) {
    if (proc.exitCode !== null) break;
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not start:\n${log()}`);
}

/** Starts CUS (and the example portal unless `portal: false`); `stop()` ends both. */
export async function startStack({ portal = true } = {}) {
  for (const bin of [BIN, ...(portal ? [PORTAL_BIN] : [])]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run cargo build first (scripts/e2e does)`);
  }
  const work = mkdtempSync(join(tmpdir(), "cus-e2e-"));
  const port = await freePort();
  const portalPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const portalBase = `http://127.0.0.1:${portalPort}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? work,
    USER: "cus-e2e", // who the `cus` commands below act as (the audit trail's operator)
    CUS_DATABASE__URL: `sqlite://${work}/cus.db`,
    CUS_CACHE__URL: "memory",
    CUS_OUTBOX__DIR: join(work, "outbox"),
    CUS_OUTBOX__POLL_SECONDS: "1",
    CUS_OUTBOX__BACKCHANNEL_ALLOWED_NETWORKS: '["127.0.0.0/8"]',
    CUS_KEYS__DEV_KEK_PATH: join(work, "kek"),
    CUS_CAPTCHA__TEST_ANSWER: CAPTCHA,
    CUS_SERVER__ISSUER: base,
    CUS_LOG__LEVEL: "warn",
    CUS_LOG__FORMAT: "json",
    // Every test signs in from one address many times: lift the per-IP and per-RUT budgets
    // of this throw-away instance (they have Rust tests of their own).
    CUS_LIMITS__FORM_PER_RUT__MAX: "100000",
    CUS_LIMITS__FORM_PER_IP__MAX: "100000",
  };
  // Changes made here are audited as the operator "e2e".
  const run = (...args) =>
    execFileSync(BIN, ["--operator", "e2e", ...args], { env, cwd: work, encoding: "utf8" });
  run("migrate", "--create");
  let client = null;
  if (portal) {
    client = JSON.parse(
      run("client", "create", "--name", "Portal de Capacitación (ejemplo)",
        "--redirect-uri", `${portalBase}/callback`,
        "--post-logout-redirect-uri", `${portalBase}/`,
        "--backchannel-logout-uri", `${portalBase}/backchannel-logout`,
        "--grant-type", "authorization_code", "--json"),
    );
  }
  const logs = { cus: "", portal: "" };
  const cus = spawn(BIN, ["serve", "--listen", `127.0.0.1:${port}`], { env, cwd: work });
  cus.stdout.on("data", (d) => (logs.cus += d));
  cus.stderr.on("data", (d) => (logs.cus += d));
  await waitFor(`${base}/readyz`, cus, () => logs.cus);
  let portalProc = null;
  if (portal) {
    portalProc = spawn(PORTAL_BIN, [], {
      env: {
        PATH: process.env.PATH,
        CUS_ISSUER: base,
        PORTAL_LISTEN: `127.0.0.1:${portalPort}`,
        PORTAL_CLIENT_ID: client.client_id,
        PORTAL_CLIENT_SECRET: client.client_secret,
      },
      cwd: work,
    });
    portalProc.stdout.on("data", (d) => (logs.portal += d));
    portalProc.stderr.on("data", (d) => (logs.portal += d));
    await waitFor(`${portalBase}/`, portalProc, () => logs.portal);
  }
  const stop = async () => {
    for (const p of [portalProc, cus]) {
      if (p && p.exitCode === null) {
        const ended = new Promise((r) => p.once("exit", r));
        p.kill("SIGTERM");
        await ended;
      }
    }
    rmSync(work, { recursive: true, force: true });
  };
  return { base, portalBase, work, env, run, logs, client, outbox: outbox(join(work, "outbox")), stop };
}

/** Reads what the outbox worker delivered: e-mails (.eml) and SMS (.json), newest first. */
function outbox(dir) {
  const list = (kind, ext) => {
    const d = join(dir, kind);
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .filter((f) => f.endsWith(ext))
      .map((f) => join(d, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  };
  const poll = async (find, what) => {
    for (let i = 0; i < 100; i++) {
      const found = find();
      if (found) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    const newest = list("mail", ".eml")[0];
    const sample = newest ? decodeMail(readFileSync(newest, "utf8")).slice(0, 1500) : "(no e-mail at all)";
    throw new Error(`no ${what} arrived in the outbox; the newest e-mail:\n${sample}`);
  };
  return {
    /** The first e-mail (decoded text) to `to` whose text matches `pattern`; its match. */
    mail(to, pattern) {
      return poll(() => {
        for (const f of list("mail", ".eml")) {
          const text = decodeMail(readFileSync(f, "utf8"));
          if (!text.toLowerCase().includes(to.toLowerCase())) continue;
          const m = text.match(pattern);
          if (m) return m;
        }
        return null;
      }, `e-mail to ${to} matching ${pattern}`);
    },
    /** The newest SMS to a number ending in `to` whose text matches `pattern`; its match. */
    sms(to, pattern) {
      return poll(() => {
        for (const f of list("sms", ".json")) {
          const sms = JSON.parse(readFileSync(f, "utf8"));
          if (!String(sms.to).endsWith(to)) continue;
          const m = sms.body.match(pattern);
          if (m) return m;
        }
        return null;
      }, `SMS to …${to} matching ${pattern}`);
    },
  };
}

/** The headers and text parts of an e-mail, with quoted-printable and base64 undone. */
export function decodeMail(raw) {
  const unfolded = raw.replace(/\r\n/g, "\n");
  const out = [unfolded.split("\n\n")[0]];
  const parts = unfolded.split(/\n--[^\n]+\n/);
  for (const part of parts) {
    const [head, ...rest] = part.split("\n\n");
    let body = rest.join("\n\n");
    if (/content-transfer-encoding:\s*base64/i.test(head)) {
      body = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
    } else if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
      body = Buffer.from(
        body.replace(/=\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))),
        "latin1",
      ).toString("utf8");
    }
    out.push(body);
  }
  return out.join("\n");
}
