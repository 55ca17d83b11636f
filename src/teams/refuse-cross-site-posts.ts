import type restify from 'restify';

// A web page open in the user's browser can POST to the loopback bot of local mode without a CORS
// preflight only with a "simple" content type (application/x-www-form-urlencoded, multipart/form-data,
// text/plain: https://fetch.spec.whatwg.org/#cors-safelisted-request-header). Accepting nothing but JSON,
// before the body is parsed, turns every such request into a 415; a JSON POST from a page needs a preflight,
// which the bot never answers with CORS headers. A request that carries an Origin (browsers add it to
// cross-site POSTs) is refused unless the origin is allowed (ALLOWED_ORIGINS, none by default): the Bot
// Connector and the Agents Playground's server send none.

/** `application/json`, with or without parameters such as charset. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

export function refuseCrossSitePosts(allowedOrigins: readonly string[]): restify.RequestHandler {
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  return (req, res, next) => {
    if (!isJsonContentType(req.headers['content-type'])) {
      res.send(415, { error: 'unsupported_media_type', expected: 'application/json' });
      return next(false);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowed.has(origin.toLowerCase())) {
      res.send(403, { error: 'origin_not_allowed' });
      return next(false);
    }
    return next();
  };
}
