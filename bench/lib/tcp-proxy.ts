/**
 * A TCP relay between the Worker and Postgres that the soak can cut: while cut, the database
 * is unreachable the way a network partition makes it — new connections are accepted and
 * never answered, and bytes on open ones stop flowing both ways — rather than refused.
 * When the cut ends, open connections flow again and the held new ones are closed.
 */
import { connect, createServer, type Socket } from "node:net";
import { onCleanup } from "./processes";

export interface TcpProxy {
  port: number;
  cut(): void;
  restore(): void;
}

export async function startTcpProxy(listenPort: number, targetPort: number): Promise<TcpProxy> {
  let cut = false;
  const held = new Set<Socket>();
  const open = new Set<Socket>();
  // Bytes that arrived during a cut, per destination: delivered when it ends, as TCP would.
  const queued = new Map<Socket, Buffer[]>();
  const relay = (from: Socket, to: Socket) => {
    from.on("data", (chunk: Buffer) => {
      if (!cut) return void to.write(chunk);
      queued.set(to, [...(queued.get(to) ?? []), chunk]);
    });
    from.once("close", () => {
      to.destroy();
      open.delete(from);
      queued.delete(from);
    });
    from.on("error", () => {});
    open.add(from);
  };
  const server = createServer((client) => {
    client.on("error", () => {});
    if (cut) {
      held.add(client);
      client.once("close", () => held.delete(client));
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve, reject) =>
    server.once("error", reject).listen(listenPort, "127.0.0.1", resolve),
  );
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of [...held, ...open]) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port: listenPort,
    cut: () => {
      cut = true;
    },
    restore: () => {
      cut = false;
      for (const socket of held) socket.destroy();
      held.clear();
      for (const [to, chunks] of queued) for (const chunk of chunks) to.write(chunk);
      queued.clear();
    },
  };
}
