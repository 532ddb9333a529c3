/**
 * Placeholder for the one-time sign-in code handed to an app after a redirect flow; replaced by
 * the real module (hashed, single-use, 60 s) when it is merged. Keeps the codes in the isolate.
 */
import { generateSecretToken } from "./secrets";
import type { AuthContext } from "./session-context";

export interface Handoff {
  userId: string;
  codeChallenge: string;
  amr: string[];
  method: string;
}

export const pendingHandoffs = new Map<string, Handoff & { appId: string }>();

export async function issueHandoffCode(ctx: AuthContext, h: Handoff): Promise<string> {
  const code = generateSecretToken();
  pendingHandoffs.set(code, { ...h, appId: ctx.app.id });
  return code;
}
