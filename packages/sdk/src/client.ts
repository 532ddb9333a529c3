/**
 * The browser (and any fetch-capable runtime) client for one Turkey app.
 *
 * Security model: the session (access and refresh token) lives in the chosen storage —
 * memory by default, so a reload signs out unless `localStorageAdapter()` is chosen. The
 * storage is read on every use rather than cached, so tabs sharing `localStorage` always
 * present the newest refresh token (a stale one would look like theft to the server).
 * Refreshes within one client are single-flight; two tabs refreshing at the same moment are
 * covered by the server's short reuse grace window.
 */
import { endsSession, TurKeyError } from "./errors.js";
import { type CallOptions, call, createTransport, type Transport } from "./http.js";
import { PkceStore } from "./pkce.js";
import { SessionStore } from "./session.js";
import { memoryStorage, type TurKeyStorage } from "./storage.js";
import type {
  AcceptedResponse,
  AccountExport,
  AuthChangeEvent,
  AuthStateListener,
  ChangeEmailInput,
  ChangePasswordInput,
  CodeInput,
  DeleteAccountInput,
  EmailInput,
  EmailLoginInput,
  FetchLike,
  Identity,
  LoginInput,
  LoginResponse,
  MfaRequired,
  OAuthInput,
  Passkey,
  PasskeyLoginInput,
  PasskeysResponse,
  RecoveryCodesResponse,
  RegisterInput,
  RegisterPasskeyInput,
  RegisterResponse,
  ResetPasswordInput,
  SecondFactorInput,
  SessionIdInput,
  SessionsResponse,
  TokenInput,
  TokenResponse,
  TotpEnrollment,
  User,
  UserResponse,
} from "./types.js";
import { type CredentialsLike, runCeremony } from "./webauthn.js";

export const SDK_VERSION = "0.8.0";

/** Access tokens are renewed this long before they expire, so none lapses in flight. */
export const REFRESH_MARGIN_MS = 30_000;

/** Bearer answers that one refresh may cure: our clock was off, or the token was replaced. */
const RETRY_AFTER_REFRESH = ["token_expired", "token_revoked", "token_invalid"];

export interface TurKeyClientOptions {
  /** Where Turkey runs, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** This app's id, sent as `X-App-Id` on every request. */
  appId: string;
  /** Where the session is kept; `memoryStorage()` by default. */
  storage?: TurKeyStorage;
  /** The fetch to use; the global one by default. */
  fetch?: FetchLike;
  /** The current time in milliseconds; `Date.now` by default (tests pass a fake clock). */
  now?: () => number;
  /** Where passkeys come from; `navigator.credentials` by default. */
  credentials?: CredentialsLike;
}

/**
 * Signs users of one app in and out and keeps their access token fresh.
 *
 * @example
 * const turkey = new TurKeyClient({ baseUrl: "https://auth.example.com", appId: "customer-portal" });
 * await turkey.login({ email: "ada@example.com", password: "correct horse battery staple" });
 * const token = await turkey.getAccessToken(); // send as `Authorization: Bearer <token>`
 */
export class TurKeyClient {
  readonly appId: string;
  readonly #transport: Transport;
  readonly #session: SessionStore;
  readonly #listeners = new Set<AuthStateListener>();
  #refreshing: Promise<TokenResponse> | undefined;
  /** Bumped on every sign-in and sign-out, so a refresh that raced one does not undo it. */
  #generation = 0;
  /** The mfaToken of a login waiting for its second factor; kept in memory only. */
  #mfaToken: string | undefined;
  readonly #credentials: CredentialsLike | undefined;
  readonly #pkce: PkceStore;

  constructor(options: TurKeyClientOptions) {
    this.#transport = createTransport(options);
    this.appId = options.appId;
    this.#credentials =
      options.credentials ??
      (globalThis as { navigator?: { credentials?: CredentialsLike } }).navigator?.credentials;
    this.#session = new SessionStore(options.storage ?? memoryStorage(), options.appId, this.#transport.now);
    this.#pkce = new PkceStore(options.appId);
  }

  /**
   * Creates an account. Signs in when the server issues tokens; when it wants the email
   * verified first, it answers `{ user, verificationRequired: true }` and nothing is stored.
   *
   * @example
   * const result = await turkey.register({ email, password, name: "Ada" });
   * if ("verificationRequired" in result) showCheckYourInbox();
   */
  async register(input: RegisterInput): Promise<RegisterResponse> {
    const result = await call<RegisterResponse>(this.#transport, "/register", { body: input });
    if ("accessToken" in result) await this.#store(result, "signed_in");
    return result;
  }

  /**
   * Signs in with email and password and stores the session. When the user has a second
   * factor, nothing is stored yet: it resolves to `{ mfaRequired: true, methods }` and
   * `verifyMfa` completes the sign-in within 5 minutes.
   *
   * @example
   * const result = await turkey.login({ email: "ada@example.com", password });
   * if ("mfaRequired" in result) await turkey.verifyMfa({ code: prompt("Code") ?? "" });
   */
  async login(input: LoginInput): Promise<LoginResponse> {
    const result = await call<TokenResponse | (MfaRequired & { mfaToken: string })>(
      this.#transport,
      "/login",
      {
        body: input,
      },
    );
    return this.#signedIn(result);
  }

  /**
   * On the page Turkey sends the browser back to (the app's URL, after a followed sign-in link
   * on a hosted page or a social sign-in): exchanges the one-time `code` in the URL with the
   * PKCE verifier this browser kept, and stores the session. Resolves to null when the URL has
   * no code; throws the `error` the URL carries, or `invalid_grant` when this browser did not
   * start the sign-in. The code is removed from the address bar either way.
   *
   * @example
   * const result = await turkey.handleRedirect();
   * if (result && "mfaRequired" in result) await turkey.verifyMfa({ code: prompt("Code") ?? "" });
   */
  async handleRedirect(url: string = pageAddress() ?? ""): Promise<LoginResponse | null> {
    const address = new URL(url);
    const params = address.searchParams;
    const code = params.get("code");
    const error = params.get("error");
    if (!code && !error) return null;
    for (const name of ["code", "state", "error", "error_description"]) params.delete(name);
    if (url === pageAddress()) browserHistory()?.replaceState(null, "", address.href);
    const verifier = await this.#pkce.take();
    if (error) throw new TurKeyError({ code: error, status: 0, message: "The sign-in did not finish" });
    if (!code || !verifier)
      throw new TurKeyError({
        code: "invalid_grant",
        status: 0,
        message: "This browser did not start the sign-in",
      });
    const result = await call<TokenResponse | (MfaRequired & { mfaToken: string })>(
      this.#transport,
      "/token",
      {
        body: { grant_type: "authorization_code", code, code_verifier: verifier },
      },
    );
    return this.#signedIn(result);
  }

  /**
   * Starts a social sign-in: keeps a new PKCE verifier, then sends the browser to the provider
   * through Turkey. The provider's answer returns to `redirectTo`, where `handleRedirect()`
   * finishes it. Resolves to the URL (navigated to when there is a page).
   *
   * @example
   * await turkey.signInWithOAuth({ provider: "github", redirectTo: "https://app.example.com/auth/return" });
   */
  async signInWithOAuth(input: OAuthInput): Promise<string> {
    const query = new URLSearchParams({
      app_id: this.appId,
      redirect_to: input.redirectTo,
      code_challenge: await this.#pkce.challenge(),
      code_challenge_method: "S256",
    });
    return navigate(`${this.#transport.baseUrl}/v1/auth/oauth/${input.provider}/authorize?${query}`);
  }

  /**
   * Links another provider to the signed-in user: the browser goes to the provider and returns
   * to `redirectTo` with `linked=<provider>` (or `error`). Resolves to the URL.
   */
  async linkIdentity(input: OAuthInput): Promise<string> {
    const { url } = await this.#authed<{ url: string }>(`/identities/link/${input.provider}`, {
      body: { redirectTo: input.redirectTo },
    });
    return navigate(url);
  }

  /** The provider accounts linked to the signed-in user. */
  async listIdentities(): Promise<Identity[]> {
    return (await this.#authed<{ identities: Identity[] }>("/identities")).identities;
  }

  /** Unlinks a provider; refused (`last_sign_in_method`) when it is the only way in. */
  async unlinkIdentity(input: SessionIdInput): Promise<void> {
    await this.#authed<undefined>(`/identities/${encodeURIComponent(input.id)}`, { method: "DELETE" });
  }

  /**
   * Completes a login that answered `mfaRequired`, with a TOTP code, a recovery code, or one of
   * the user's passkeys (`{ passkey: true }`, when `methods` includes `passkey`). A wrong one may
   * be retried (up to 5 per login); `mfa_token_invalid` means log in again.
   *
   * @example
   * await turkey.verifyMfa({ code: "123456" });
   * await turkey.verifyMfa({ passkey: true });
   */
  async verifyMfa(input: SecondFactorInput): Promise<TokenResponse> {
    const mfaToken = this.#mfaToken;
    if (!mfaToken) throw new TurKeyError({ code: "mfa_token_invalid", status: 0, message: "Log in first" });
    const proof =
      "passkey" in input ? { passkey: await this.#ceremony("/mfa/passkey/options", { mfaToken }) } : input;
    const tokens = await call<TokenResponse>(this.#transport, "/mfa/verify", {
      body: { mfaToken, ...proof },
    });
    this.#mfaToken = undefined;
    await this.#store(tokens, "signed_in");
    return tokens;
  }

  /**
   * Signs in with a passkey, without a password. Without an email the browser offers every
   * passkey it holds for the site; with one, only that user's.
   *
   * @example
   * await turkey.loginWithPasskey();
   */
  async loginWithPasskey(input: PasskeyLoginInput = {}): Promise<LoginResponse> {
    const response = await this.#ceremony("/passkeys/login/options", input);
    const result = await call<TokenResponse | (MfaRequired & { mfaToken: string })>(
      this.#transport,
      "/passkeys/login/verify",
      { body: { response } },
    );
    return this.#signedIn(result);
  }

  /**
   * Adds a passkey for the signed-in user (the browser asks them to make one).
   *
   * @example
   * const passkey = await turkey.registerPasskey({ name: "Work laptop" });
   */
  async registerPasskey(input: RegisterPasskeyInput = {}): Promise<Passkey> {
    const options = await this.#authed<Record<string, string>>("/passkeys/register/options", {
      method: "POST",
    });
    const response = await runCeremony(this.#credentials, "create", options as never);
    return this.#authed<Passkey>("/passkeys/register/verify", { body: { ...input, response } });
  }

  /**
   * The signed-in user's passkeys.
   *
   * @example
   * const { passkeys } = await turkey.listPasskeys();
   */
  listPasskeys(): Promise<PasskeysResponse> {
    return this.#authed<PasskeysResponse>("/passkeys");
  }

  /**
   * Removes one of the user's passkeys.
   *
   * @example
   * await turkey.deletePasskey({ id: passkey.id });
   */
  async deletePasskey(input: { id: string }): Promise<void> {
    await this.#authed<undefined>(`/passkeys/${encodeURIComponent(input.id)}`, { method: "DELETE" });
  }

  /**
   * Starts TOTP enrolment for the signed-in user; show `otpauthUrl` as a QR code.
   *
   * @example
   * const { otpauthUrl } = await turkey.enrollTotp();
   */
  enrollTotp(): Promise<TotpEnrollment> {
    return this.#authed<TotpEnrollment>("/mfa/totp/enroll", { method: "POST" });
  }

  /**
   * Activates TOTP with a first code; answers the recovery codes (show them once). The user's
   * other sessions end; this one stays.
   *
   * @example
   * const { recoveryCodes } = await turkey.confirmTotp({ code: "123456" });
   */
  confirmTotp(input: CodeInput): Promise<RecoveryCodesResponse> {
    return this.#authed<RecoveryCodesResponse>("/mfa/totp/confirm", { body: input });
  }

  /**
   * Ends this session on the server and forgets it locally. The local session is cleared even
   * when the server cannot be reached; that failure is still reported.
   *
   * @example
   * await turkey.logout();
   */
  async logout(): Promise<void> {
    await this.#endRemotely("/logout", async () => ({
      refreshToken: (await this.#session.read())?.refreshToken,
    }));
  }

  /**
   * Ends every session of this user in this app (all devices), then forgets the local one.
   *
   * @example
   * await turkey.logoutAll();
   */
  async logoutAll(): Promise<void> {
    await this.#endRemotely("/logout-all", async () => undefined);
  }

  /**
   * Exchanges the refresh token for a new pair now. Concurrent calls share one request.
   * Usually not needed: `getAccessToken()` refreshes by itself.
   *
   * @example
   * const { accessToken, expiresIn } = await turkey.refresh();
   */
  refresh(): Promise<TokenResponse> {
    this.#refreshing ??= this.#refreshNow().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /**
   * A valid access token, refreshed first when it expires within 30 seconds; `null` when
   * signed out (including when the server has ended the session).
   *
   * @example
   * const token = await turkey.getAccessToken();
   * if (token) await fetch("/api/orders", { headers: { Authorization: `Bearer ${token}` } });
   */
  async getAccessToken(): Promise<string | null> {
    const session = await this.#session.read();
    if (!session) return null;
    if (session.expiresAt - this.#transport.now() > REFRESH_MARGIN_MS) return session.accessToken;
    try {
      return (await this.refresh()).accessToken;
    } catch (error) {
      if (endsSession(error) || isNotSignedIn(error)) return null;
      throw error;
    }
  }

  /**
   * The signed-in user, fresh from the server (`GET /v1/auth/me`).
   *
   * @example
   * const user = await turkey.getUser();
   * console.log(user.email, user.emailVerified);
   */
  async getUser(): Promise<User> {
    const { user } = await this.#authed<UserResponse>("/me");
    await this.#updateUser(user);
    return user;
  }

  /**
   * Confirms an email address with the token from the verification link.
   *
   * @example
   * const token = new URL(location.href).searchParams.get("token") ?? "";
   * const { user } = await turkey.verifyEmail({ token });
   */
  async verifyEmail(input: TokenInput): Promise<UserResponse> {
    const result = await call<UserResponse>(this.#transport, "/verify-email", { body: input });
    await this.#updateUser(result.user);
    return result;
  }

  /**
   * Sends the verification email again. The answer is the same whether or not the email exists.
   *
   * @example
   * await turkey.resendVerification({ email: "ada@example.com" });
   */
  resendVerification(input: EmailInput): Promise<AcceptedResponse> {
    return call<AcceptedResponse>(this.#transport, "/resend-verification", { body: input });
  }

  /**
   * Sends a password-reset link. The answer is the same whether or not the email exists.
   *
   * @example
   * await turkey.forgotPassword({ email: "ada@example.com" });
   */
  forgotPassword(input: EmailInput): Promise<AcceptedResponse> {
    return call<AcceptedResponse>(this.#transport, "/forgot-password", { body: input });
  }

  /**
   * Sets a new password with the token from the reset link. The server ends every session of
   * the user, so a stored session of the same user is forgotten too.
   *
   * @example
   * await turkey.resetPassword({ token, password: "a new long passphrase" });
   * await turkey.login({ email, password: "a new long passphrase" });
   */
  async resetPassword(input: ResetPasswordInput): Promise<UserResponse> {
    const result = await call<UserResponse>(this.#transport, "/reset-password", { body: input });
    if ((await this.#session.read())?.user.id === result.user.id) await this.#signOut();
    return result;
  }

  /**
   * Changes the signed-in user's password. Their other sessions end; this one stays.
   *
   * @example
   * await turkey.changePassword({ currentPassword, newPassword });
   */
  async changePassword(input: ChangePasswordInput): Promise<UserResponse> {
    const result = await this.#authed<UserResponse>("/change-password", { body: input });
    await this.#updateUser(result.user);
    return result;
  }

  /**
   * Mails a sign-in code and link, where the app signs in by email. The answer is the same
   * whether or not the address has an account.
   *
   * @example
   * await turkey.requestEmailLogin({ email: "ada@example.com" });
   */
  async requestEmailLogin(input: EmailInput): Promise<AcceptedResponse> {
    // Lets Turkey's hosted page hand a followed link back to this browser (`handleRedirect`).
    const codeChallenge = await this.#pkce.challenge();
    return call<AcceptedResponse>(this.#transport, "/email-login", { body: { ...input, codeChallenge } });
  }

  /**
   * Signs in with the mailed code (with its address) or the link's token, and stores the session.
   * For an account with a second factor it resolves to `{ mfaRequired: true, methods }`, as `login` does.
   *
   * @example
   * await turkey.verifyEmailLogin({ email: "ada@example.com", code: "123456" });
   * await turkey.verifyEmailLogin({ token: new URL(location.href).searchParams.get("token") ?? "" });
   */
  async verifyEmailLogin(input: EmailLoginInput): Promise<LoginResponse> {
    const result = await call<TokenResponse | (MfaRequired & { mfaToken: string })>(
      this.#transport,
      "/email-login/verify",
      { body: input },
    );
    return this.#signedIn(result);
  }

  /**
   * Asks to move the account to `newEmail`: a link goes there, a notice to the current
   * address. Nothing changes until the link is followed (`confirmEmail`).
   *
   * @example
   * await turkey.changeEmail({ newEmail: "ada@new.example", password });
   */
  changeEmail(input: ChangeEmailInput): Promise<AcceptedResponse> {
    return this.#authed<AcceptedResponse>("/change-email", { body: input });
  }

  /**
   * Confirms a new address with the token from its link (`email_taken` if another account
   * took it meanwhile). The server ends the user's other sessions.
   *
   * @example
   * const { user } = await turkey.confirmEmail({ token });
   */
  async confirmEmail(input: TokenInput): Promise<UserResponse> {
    const result = await call<UserResponse>(this.#transport, "/confirm-email", { body: input });
    await this.#updateUser(result.user);
    return result;
  }

  /**
   * Mails the signed-in user a 6-digit code for `deleteAccount({ code })`, for accounts that
   * sign in without a password.
   *
   * @example
   * await turkey.requestDeletionCode();
   */
  requestDeletionCode(): Promise<AcceptedResponse> {
    return this.#authed<AcceptedResponse>("/account/deletion-code", { method: "POST" });
  }

  /**
   * Deletes the account for good, then forgets the session here. Proven with the password, or
   * with the code from `requestDeletionCode`.
   *
   * @example
   * await turkey.deleteAccount({ password });
   */
  async deleteAccount(input: DeleteAccountInput): Promise<void> {
    await this.#authed<undefined>("/account", { method: "DELETE", body: input });
    await this.#signOut();
  }

  /**
   * Everything the server holds about the user in this app, as one document.
   *
   * @example
   * const data = await turkey.exportAccount();
   */
  exportAccount(): Promise<AccountExport> {
    return this.#authed<AccountExport>("/account/export");
  }

  /**
   * The user's live sessions in this app; `current` marks this one.
   *
   * @example
   * const { sessions } = await turkey.listSessions();
   * const others = sessions.filter((session) => !session.current);
   */
  listSessions(): Promise<SessionsResponse> {
    return this.#authed<SessionsResponse>("/sessions");
  }

  /**
   * Ends one of the user's sessions (another device, say).
   *
   * @example
   * await turkey.revokeSession({ id: session.id });
   */
  async revokeSession(input: SessionIdInput): Promise<void> {
    await this.#authed<undefined>(`/sessions/${encodeURIComponent(input.id)}`, { method: "DELETE" });
  }

  /**
   * Calls `listener` on sign-in, sign-out (also when the server ends the session), token
   * refresh and user updates. Returns the function that unsubscribes it. A listener that
   * throws is reported asynchronously and does not break the call that triggered it.
   *
   * @example
   * const unsubscribe = turkey.onAuthStateChange((event, user) => {
   *   if (event === "signed_out") location.assign("/login");
   * });
   * // later
   * unsubscribe();
   */
  onAuthStateChange(listener: AuthStateListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async #refreshNow(): Promise<TokenResponse> {
    const session = await this.#session.read();
    if (!session) throw notSignedIn();
    const generation = this.#generation;
    try {
      const tokens = await call<TokenResponse>(this.#transport, "/refresh", {
        body: { refreshToken: session.refreshToken },
      });
      if (generation === this.#generation) await this.#store(tokens, "token_refreshed");
      return tokens;
    } catch (error) {
      if (endsSession(error) && generation === this.#generation) await this.#signOut();
      throw error;
    }
  }

  /** Request options from `path`, the browser's passkey prompt, and the signed response as JSON. */
  async #ceremony(path: string, body: object): Promise<Record<string, unknown>> {
    const options = await call<{ challenge: string }>(this.#transport, path, { body });
    return runCeremony(this.#credentials, "get", options);
  }

  /** A bearer call; one refresh and retry when the server refuses a token we thought valid. */
  async #authed<T>(path: string, options: CallOptions = {}): Promise<T> {
    const token = await this.getAccessToken();
    if (!token) throw notSignedIn();
    try {
      return await call<T>(this.#transport, path, { ...options, token });
    } catch (error) {
      if (!(error instanceof TurKeyError && RETRY_AFTER_REFRESH.includes(error.code))) throw error;
      // Another call may have refreshed meanwhile; only refresh again if not.
      const stored = await this.#session.read();
      const fresh =
        stored && stored.accessToken !== token ? stored.accessToken : (await this.refresh()).accessToken;
      return call<T>(this.#transport, path, { ...options, token: fresh });
    }
  }

  /** Logout and logout-all: tell the server, then always forget the session locally. */
  async #endRemotely(path: string, body: () => Promise<unknown>): Promise<void> {
    try {
      const token = await this.getAccessToken();
      if (token) await call(this.#transport, path, { method: "POST", body: await body(), token });
    } catch (error) {
      // A refused token means the server has already ended the session: the goal is met.
      if (!(error instanceof TurKeyError && error.status === 401)) throw error;
    } finally {
      await this.#signOut();
    }
  }

  /** A sign-in's answer: tokens are stored; an mfaToken is kept for `verifyMfa`. */
  async #signedIn(result: TokenResponse | (MfaRequired & { mfaToken: string })): Promise<LoginResponse> {
    if ("mfaRequired" in result) {
      this.#mfaToken = result.mfaToken;
      return { mfaRequired: true, methods: result.methods };
    }
    await this.#store(result, "signed_in");
    return result;
  }

  async #store(tokens: TokenResponse, event: AuthChangeEvent): Promise<void> {
    this.#generation++;
    await this.#session.save(tokens);
    this.#emit(event, tokens.user);
  }

  /** Keeps the stored user in step with a newer copy from the server. */
  async #updateUser(user: User): Promise<void> {
    if (await this.#session.saveUser(user)) this.#emit("user_updated", user);
  }

  async #signOut(): Promise<void> {
    this.#generation++;
    if (await this.#session.clear()) this.#emit("signed_out", null);
  }

  #emit(event: AuthChangeEvent, user: User | null): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event, user);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

function notSignedIn(): TurKeyError {
  return new TurKeyError({ code: "not_signed_in", status: 0, message: "No user is signed in" });
}

function isNotSignedIn(error: unknown): boolean {
  return error instanceof TurKeyError && error.code === "not_signed_in";
}

/** Sends the page to `url`, where there is a page; returns it either way. */
function navigate(url: string): string {
  (globalThis as { location?: { assign(url: string): void } }).location?.assign(url);
  return url;
}

/** The page's address, where there is a page. */
function pageAddress(): string | undefined {
  return (globalThis as { location?: { href: string } }).location?.href;
}

/** The page's History, where there is one (not in workers or Node). */
function browserHistory(): { replaceState(data: null, unused: string, url: string): void } | undefined {
  return (globalThis as { history?: ReturnType<typeof browserHistory> }).history;
}
