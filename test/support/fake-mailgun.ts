/**
 * A local stand-in for Mailgun's messages API: checks the path, basic auth and form fields
 * the way Mailgun does, records what was sent, and lets tests read it back
 * (`GET /recorded?to=…`). A recipient containing `mailgun-fails` gets a 500.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const FAKE_MAILGUN_KEY = "key-test-0123456789";
export const FAKE_MAILGUN_DOMAIN = "mg.turkey.test";

export interface RecordedMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export async function startFakeMailgun(): Promise<{ url: string; close(): Promise<void> }> {
  const messages: RecordedMessage[] = [];
  const server = createServer((request, response) => {
    handle(request, response, messages).catch(() => reply(response, 500, { message: "fake failed" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, messages: RecordedMessage[]) {
  const url = new URL(request.url ?? "/", "http://fake");
  if (request.method === "GET" && url.pathname === "/recorded") {
    const to = url.searchParams.get("to");
    return reply(
      response,
      200,
      messages.filter((message) => message.to === to),
    );
  }
  if (request.method !== "POST" || url.pathname !== `/v3/${FAKE_MAILGUN_DOMAIN}/messages`) {
    return reply(response, 404, { message: "not found" });
  }
  const expected = `Basic ${Buffer.from(`api:${FAKE_MAILGUN_KEY}`).toString("base64")}`;
  if (request.headers.authorization !== expected) return reply(response, 401, { message: "Forbidden" });
  const form = new URLSearchParams(await readBody(request));
  const message = Object.fromEntries(
    ["from", "to", "subject", "text", "html"].map((field) => [field, form.get(field) ?? ""]),
  ) as unknown as RecordedMessage;
  if (!message.from || !message.to || !message.subject || (!message.text && !message.html)) {
    return reply(response, 400, { message: "missing field" });
  }
  if (message.to.includes("mailgun-fails")) return reply(response, 500, { message: "Internal error" });
  messages.push(message);
  return reply(response, 200, {
    id: `<${messages.length}@${FAKE_MAILGUN_DOMAIN}>`,
    message: "Queued. Thank you.",
  });
}

export function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}
