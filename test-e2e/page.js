// The browser side of the end-to-end check: the built SDK, real localStorage, real CORS.
// Each step writes one <li data-step data-ok data-code> for the Node driver to read.
import { localStorageAdapter, TurKeyClient, TurKeyError } from "/sdk.js";

const params = new URLSearchParams(location.search);
const appId = params.get("app") ?? "";
const storageKey = `turkey.${appId}.session`;
const turkey = new TurKeyClient({
  baseUrl: params.get("api") ?? "",
  appId,
  storage: localStorageAdapter(),
});
const events = [];
turkey.onAuthStateChange((event) => events.push(event));

const email = `browser-${crypto.randomUUID().slice(0, 8)}@example.com`;
const password = "correct horse battery staple";

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function report(step, ok, detail, code = "") {
  const item = document.createElement("li");
  item.dataset.step = step;
  item.dataset.ok = String(ok);
  item.dataset.code = code;
  item.textContent = `${ok ? "✓" : "✗"} ${step}: ${detail}`;
  document.querySelector("#results").append(item);
}

async function step(name, run) {
  try {
    report(name, true, await run());
    return true;
  } catch (error) {
    const known = error instanceof TurKeyError;
    report(name, false, known ? `${error.code}: ${error.message}` : String(error), known ? error.code : "");
    return false;
  }
}

const steps = [
  [
    "register",
    async () => {
      const result = await turkey.register({ email, password, name: "Browser" });
      check("accessToken" in result, "no tokens after register");
      return `${result.user.email} in ${result.user.appId}`;
    },
  ],
  [
    "login",
    async () => {
      const { user } = await turkey.login({ email, password });
      check(localStorage.getItem(storageKey) !== null, "session not in localStorage");
      return `signed in as ${user.email}, session kept in localStorage`;
    },
  ],
  [
    "getUser",
    async () => {
      const user = await turkey.getUser();
      check(user.email === email, `wrong user ${user.email}`);
      return `GET /v1/auth/me → ${user.email} (verified: ${user.emailVerified})`;
    },
  ],
  [
    "refresh",
    async () => {
      const before = await turkey.getAccessToken();
      const tokens = await turkey.refresh();
      const after = await turkey.getAccessToken();
      check(after === tokens.accessToken && after !== before, "access token did not change");
      return `new access token, expires in ${tokens.expiresIn} s`;
    },
  ],
  [
    "listSessions",
    async () => {
      const { sessions } = await turkey.listSessions();
      check(sessions.length === 2, `expected 2 sessions, got ${sessions.length}`);
      const current = sessions.find((session) => session.current);
      return `${sessions.length} sessions, this one from "${current?.userAgent?.slice(0, 40)}…"`;
    },
  ],
  [
    "logout",
    async () => {
      await turkey.logout();
      check((await turkey.getAccessToken()) === null, "still signed in");
      check(localStorage.getItem(storageKey) === null, "session left in localStorage");
      return "signed out, localStorage cleared";
    },
  ],
  [
    "events",
    async () => {
      const seen = events.join(", ");
      check(seen === "signed_in, signed_in, token_refreshed, signed_out", `events were ${seen}`);
      return seen;
    },
  ],
];

document.querySelector("#origin").textContent = `page ${location.origin} → API ${params.get("api")}`;
for (const [name, run] of steps) {
  if (!(await step(name, run))) break;
}
document.body.dataset.done = "true";
