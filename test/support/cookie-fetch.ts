/** A fetch that keeps cookies as a browser would for one site (for cookie mode in Node). */
export function cookieFetch(): { fetcher: typeof fetch; jar: Map<string, string> } {
  const jar = new Map<string, string>();
  const fetcher: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    if (jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(input, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const [name = '', value = ''] = pair.split('=');
      if (attributes.some((a) => /max-age=0\b/i.test(a.trim())) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  };
  return { fetcher, jar };
}
