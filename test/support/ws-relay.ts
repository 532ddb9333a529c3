/**
 * A WebSocket-to-TCP relay for the Neon serverless driver, so its path can be tested against
 * a local Postgres (Neon's hosted proxy does this in production). Only the allowed
 * host:port can be reached: without that check it would be an open relay.
 */
import net from "node:net";
import { WebSocketServer } from "ws";

export interface Relay {
  port: number;
  close(): Promise<void>;
}

export async function startWsRelay(allowedAddress: string): Promise<Relay> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (socket, request) => {
    const address = new URL(request.url ?? "/", "ws://relay").searchParams.get("address");
    if (address !== allowedAddress) {
      socket.close(1008, "address not allowed");
      return;
    }
    const [host, port] = allowedAddress.split(":");
    const tcp = net.connect(Number(port), host);
    tcp.on("data", (chunk) => socket.send(chunk));
    tcp.on("close", () => socket.close());
    tcp.on("error", () => socket.close());
    socket.on("message", (data) => tcp.write(data as Buffer));
    socket.on("close", () => tcp.destroy());
    socket.on("error", () => tcp.destroy());
  });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
