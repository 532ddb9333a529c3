/**
 * The client network a per-IP counter keys on. An IPv4 client is its address; an IPv6 client
 * is its /64, since one subscriber is routinely handed a whole /64 and could otherwise take a
 * fresh address for every request.
 */

export const IPV6_PREFIX_BITS = 64;

export function clientNetwork(ip: string | null | undefined): string {
  const address = ip?.trim() ?? "";
  if (isIpv4(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return "unknown";
  const mapped = mappedIpv4(groups);
  if (mapped) return mapped;
  const prefix = groups.slice(0, IPV6_PREFIX_BITS / 16).map((group) => group.toString(16));
  return `${prefix.join(":")}::/${IPV6_PREFIX_BITS}`;
}

function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

/** The eight 16-bit groups of an IPv6 address (with `::` and a dotted IPv4 tail), or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const withoutZone = text.split("%")[0] ?? "";
  if (!/^[0-9a-fA-F:.]+$/.test(withoutZone) || withoutZone.split("::").length > 2) return undefined;
  const [head = "", tail] = withoutZone.split("::");
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    for (const piece of part.split(":")) {
      if (isIpv4(piece)) {
        const [a = 0, b = 0, c = 0, d = 0] = piece.split(".").map(Number);
        groups.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        groups.push(Number.parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const first = parse(head);
  const last = tail === undefined ? [] : parse(tail);
  if (!first || !last) return undefined;
  const missing = 8 - first.length - last.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  return [...first, ...Array<number>(Math.max(0, missing)).fill(0), ...last];
}

/** `::ffff:192.0.2.1` is an IPv4 client seen through an IPv6 socket. */
function mappedIpv4(groups: number[]): string | undefined {
  const isMapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (!isMapped) return undefined;
  const [high = 0, low = 0] = groups.slice(6);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
}
