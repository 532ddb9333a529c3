// A small app as a developer would write it with the published SDK: one client, a form and a
// button per action. Each action adds one <li data-action data-ok data-code> to the activity
// log, which is what the browser check reads.
import { localStorageAdapter, SDK_VERSION, TurKeyClient, TurKeyError, type User } from "@turkey/sdk";

const baseUrl = import.meta.env.VITE_TURKEY_URL;
const appId = import.meta.env.VITE_TURKEY_APP_ID;

const turkey = new TurKeyClient({ baseUrl, appId, storage: localStorageAdapter() });

const events: string[] = [];
turkey.onAuthStateChange((event, user) => {
  events.push(event);
  show("#events", events.join(" → "));
  show("#status", user ? `Signed in as ${user.email}` : "Signed out");
});

function show(selector: string, text: string): void {
  const element = document.querySelector(selector);
  if (element) element.textContent = text;
}

function credentials(): { email: string; password: string } {
  const form = new FormData(document.querySelector<HTMLFormElement>("#credentials") ?? undefined);
  return { email: String(form.get("email") ?? ""), password: String(form.get("password") ?? "") };
}

function typedCode(): string {
  return document.querySelector<HTMLInputElement>('input[name="code"]')?.value.trim() ?? "";
}

/** Our own API call, the way an app sends the user's token to a backend. */
async function fetchMe(): Promise<User> {
  const token = await turkey.getAccessToken();
  if (!token) throw new Error("signed out");
  const response = await fetch(`${baseUrl}/v1/auth/me`, {
    headers: { Authorization: `Bearer ${token}`, "X-App-Id": appId },
  });
  const body = (await response.json()) as { user?: User; error?: { code: string } };
  if (!response.ok || !body.user) throw new Error(`HTTP ${response.status} ${body.error?.code ?? ""}`);
  return body.user;
}

/** What each button does; each resolves to its line in the activity log. */
const actions: Record<string, () => Promise<string>> = {
  async signUp() {
    const result = await turkey.register({ ...credentials(), name: "Sample" });
    if ("verificationRequired" in result) return `signed up; check ${result.user.email} for the link`;
    return `signed up as ${result.user.email}`;
  },
  async logIn() {
    const result = await turkey.login(credentials());
    if ("mfaRequired" in result) return `second factor required: ${result.methods.join(", ")}`;
    return `logged in as ${result.user.email}; access token valid for ${result.expiresIn} s`;
  },
  async enrollTotp() {
    const { otpauthUrl } = await turkey.enrollTotp();
    show("#otpauth", otpauthUrl);
    return "scan the QR code (otpauth URI below), then type a code";
  },
  async confirmTotp() {
    const { recoveryCodes } = await turkey.confirmTotp({ code: typedCode() });
    show("#recovery", recoveryCodes.join("  "));
    return `two-step sign-in on; ${recoveryCodes.length} recovery codes`;
  },
  async verifyMfa() {
    const { user } = await turkey.verifyMfa({ code: typedCode() });
    return `logged in as ${user.email} with a second factor`;
  },
  async addPasskey() {
    const passkey = await turkey.registerPasskey({ name: "This browser" });
    return `passkey "${passkey.name}" added (${passkey.deviceType})`;
  },
  async passkeyLogin() {
    const result = await turkey.loginWithPasskey();
    if ("mfaRequired" in result) return `second factor required: ${result.methods.join(", ")}`;
    return `logged in as ${result.user.email} with a passkey`;
  },
  async verifyPasskey() {
    const { user } = await turkey.verifyMfa({ passkey: true });
    return `logged in as ${user.email} with a passkey as second factor`;
  },
  async passkeys() {
    const { passkeys } = await turkey.listPasskeys();
    return `${passkeys.length} passkeys: ${passkeys.map((passkey) => passkey.name).join(", ")}`;
  },
  async profile() {
    const user = await turkey.getUser();
    return `getUser(): ${user.email}, verified: ${user.emailVerified}`;
  },
  async callApi() {
    const user = await fetchMe();
    return `fetch /v1/auth/me with the access token: ${user.email}`;
  },
  async sessions() {
    const { sessions } = await turkey.listSessions();
    return `${sessions.length} live sessions`;
  },
  async refresh() {
    const { expiresIn } = await turkey.refresh();
    return `new token pair; access token valid for ${expiresIn} s`;
  },
  async logOut() {
    await turkey.logout();
    return "logged out";
  },
  async signInWithOidc() {
    // The page leaves for the provider; handleRedirect below finishes when it comes back.
    await turkey.signInWithOAuth({ provider: "oidc", redirectTo: `${location.origin}/` });
    return "off to the provider";
  },
  async emailLogin() {
    await turkey.requestEmailLogin({ email: credentials().email });
    return "sign-in link mailed; open it in this browser";
  },
};

function report(action: string, ok: boolean, text: string, code = ""): void {
  const item = document.createElement("li");
  Object.assign(item.dataset, { action, ok: String(ok), code });
  item.textContent = `${ok ? "✓" : "✗"} ${text}`;
  document.querySelector("#log")?.append(item);
}

async function perform(action: string): Promise<void> {
  const run = actions[action];
  if (!run) return;
  try {
    report(action, true, await run());
  } catch (error) {
    const known = error instanceof TurKeyError;
    report(action, false, known ? `${error.code}: ${error.message}` : String(error), known ? error.code : "");
  }
}

for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-action]")) {
  button.addEventListener("click", () => void perform(button.dataset.action ?? ""));
}
show("#about", `@turkey/sdk ${SDK_VERSION} · app ${appId} · API ${baseUrl}`);

// Back from Turkey's hosted sign-in page (or a provider) with ?code=: finish the sign-in here.
async function finishRedirect(): Promise<void> {
  try {
    const result = await turkey.handleRedirect();
    if (!result) return;
    if ("mfaRequired" in result)
      report("redirect", true, `second factor required: ${result.methods.join(", ")}`);
    else report("redirect", true, `signed in as ${result.user.email} by redirect`);
  } catch (error) {
    const known = error instanceof TurKeyError;
    report(
      "redirect",
      false,
      known ? `${error.code}: ${error.message}` : String(error),
      known ? error.code : "",
    );
  }
}
void finishRedirect().finally(() => {
  document.body.dataset.ready = "true";
});
