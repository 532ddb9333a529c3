/**
 * A PostgreSQL server from a versioned system install (e.g. Debian's
 * /usr/lib/postgresql/15/bin), for tests whose client programs must not be older than the
 * server: the embedded server may be newer than any pg_dump on the machine.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Cluster {
  url: string;
  stop(): Promise<void>;
}

/** True when the folder holds a server, not only client programs. */
export function hasServer(binDir: string): boolean {
  return ["initdb", "pg_ctl", "postgres"].every((name) => existsSync(path.join(binDir, name)));
}

/** A server with trust authentication; with `tls`, it also accepts TLS (a self-signed certificate). */
export async function startCluster(binDir: string, port: number, { tls = false } = {}): Promise<Cluster> {
  const dir = await mkdtemp(path.join(tmpdir(), "gravy-cluster-"));
  await chmod(dir, 0o755);
  // Postgres refuses to run as root; as root, run it as the `postgres` system user.
  const owner = process.getuid?.() === 0 ? systemUser("postgres") : undefined;
  if (owner) await chown(dir, owner.uid, owner.gid);
  const options = { cwd: dir, ...(owner ?? {}) };
  const data = path.join(dir, "data");
  await run(
    path.join(binDir, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
    options,
  );
  let flags = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
  if (tls) flags += ` -c ssl=on ${await selfSignedCertificate(dir, owner)}`;
  const pgCtl = path.join(binDir, "pg_ctl");
  await run(pgCtl, ["-D", data, "-l", path.join(dir, "server.log"), "-o", flags, "-w", "start"], options);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await run(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"], options).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A throw-away key and certificate (openssl), readable by the server only; returns the flags. */
async function selfSignedCertificate(
  dir: string,
  owner: { uid: number; gid: number } | undefined,
): Promise<string> {
  const key = path.join(dir, "server.key");
  const certificate = path.join(dir, "server.crt");
  await run("openssl", [
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"],
    ...["-keyout", key, "-out", certificate],
  ]);
  for (const file of [key, certificate]) {
    await chmod(file, 0o600);
    if (owner) await chown(file, owner.uid, owner.gid);
  }
  return `-c ssl_cert_file=${certificate} -c ssl_key_file=${key}`;
}

function systemUser(name: string): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`no ${name} system user to run PostgreSQL as`);
  return { uid: Number(uid), gid: Number(gid) };
}
