/**
 * Walks oidc-provider's development login and consent pages over HTTP, as a browser would:
 * follows redirects with a cookie jar (cookies scoped by path), fills the login form, submits
 * the consent form, and stops at the first request bound for Turkey (`turkeyOrigin`), which it
 * returns for the test to send into the app (a GET, or Apple-style a form POST).
 */
export interface ToTurkey {
  method: "GET" | "POST";
  url: URL;
  body?: string;
}

interface Cookie {
  name: string;
  value: string;
  path: string;
}

export async function walkProviderPages(
  start: string,
  turkeyOrigin: string,
  login: string,
): Promise<ToTurkey> {
  const jar: Cookie[] = [];
  let request: { method: "GET" | "POST"; url: URL; body?: string } = { method: "GET", url: new URL(start) };
  for (let step = 0; step < 20; step++) {
    if (request.url.origin === turkeyOrigin) return request;
    const response = await fetch(request.url, {
      method: request.method,
      redirect: "manual",
      headers: {
        cookie: cookiesFor(jar, request.url.pathname),
        ...(request.body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(request.body ? { body: request.body } : {}),
    });
    remember(jar, response.headers.getSetCookie());
    const location = response.headers.get("location");
    if (location) {
      request = { method: "GET", url: new URL(location, request.url) };
      continue;
    }
    if (response.status !== 200)
      throw new Error(`provider answered ${response.status}: ${await response.text()}`);
    request = submit(await response.text(), request.url, login);
  }
  throw new Error("the provider's pages did not end");
}

/** The page's form, filled: the login form gets `login` and any password. */
function submit(page: string, at: URL, login: string): { method: "POST"; url: URL; body: string } {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(page);
  if (!form?.[1]) throw new Error(`no form on the provider's page: ${page.slice(0, 300)}`);
  const fields = new URLSearchParams();
  for (const input of (form[2] ?? "").matchAll(/<input[^>]*>/gi)) {
    const name = /name="([^"]+)"/.exec(input[0])?.[1];
    if (!name) continue;
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? "";
    fields.set(name, decodeEntities(value));
  }
  if (fields.has("login")) {
    fields.set("login", login);
    fields.set("password", "any password");
  }
  return { method: "POST", url: new URL(decodeEntities(form[1]), at), body: fields.toString() };
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCharCode(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function remember(jar: Cookie[], headers: string[]): void {
  for (const header of headers) {
    const [pair = "", ...attributes] = header.split(";");
    const [name = "", ...rest] = pair.split("=");
    const path = attributes.map((part) => part.trim()).find((part) => part.toLowerCase().startsWith("path="));
    const cookie = { name: name.trim(), value: rest.join("="), path: path?.slice(5) ?? "/" };
    const index = jar.findIndex((known) => known.name === cookie.name && known.path === cookie.path);
    if (index >= 0) jar.splice(index, 1);
    if (!/expires=Thu, 01 Jan 1970/i.test(header)) jar.push(cookie);
  }
}

function cookiesFor(jar: Cookie[], path: string): string {
  return jar
    .filter(
      (cookie) =>
        path === cookie.path || path.startsWith(cookie.path.endsWith("/") ? cookie.path : `${cookie.path}/`),
    )
    .sort((a, b) => b.path.length - a.path.length)
    .map((cookie) => `${cookie.name}=${cookie.value}`)
    .join("; ");
}
