/*
 * AWS Query-protocol responses (STS, IAM, RDS): an operation's JSON result,
 * as a handler returns it, rendered as the XML that botocore's QueryParser
 * (and the other SDKs' Query unmarshallers) read, driven by the output
 * shape of the service model (emu/model.h).
 */
#ifndef API_XMLOUT_H
#define API_XMLOUT_H

#include "emu/buf.h"
#include "emu/err.h"
#include "emu/model.h"

#include <jansson.h>

/* Nesting of JSON values (structures, lists, maps) the renderer descends. */
#define XMLOUT_MAX_DEPTH 32

/*
 * Appends to b, for operation `op` of the Query service svc:
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <OpResponse xmlns="svc->xml_namespace">
 *     <OpResult>
 *       ...members of the output shape, in model order...
 *     </OpResult>
 *     <ResponseMetadata>
 *       <RequestId>request_id</RequestId>
 *     </ResponseMetadata>
 *   </OpResponse>
 *
 * indented by two spaces per level, as AWS answers.  The result wrapper is
 * always there (`<OpResult/>` when out is NULL, empty, or the operation has
 * no output shape): botocore looks it up by name.
 *
 * `out` holds AWS member names as keys (what a JSON-protocol handler
 * returns): structures and maps are objects, lists arrays, strings and
 * blobs (base64 text) strings, integers/longs JSON integers, floats/doubles
 * numbers, booleans true/false, timestamps epoch seconds (numbers) shown as
 * ISO 8601 UTC ("2024-01-01T00:00:00Z", or "...:00.000Z" for services
 * flagged MODEL_SVC_XML_TIMESTAMP_MILLIS).  Lists are <Name><member>...
 * </member></Name> (or the model's element name), flattened lists repeat
 * <Name> in place; maps are <entry><key/><value/></entry> (or the model's
 * names), flattened maps repeat <Name><key/><value/></Name>.  An empty list,
 * map or structure is <Name/>; an empty string <Name></Name>.  Members that
 * are null or absent are left out; members the model does not know are
 * ignored (logged at debug).  Strings are escaped for XML text; characters
 * XML 1.0 cannot carry (controls other than tab, LF, CR; U+FFFE/U+FFFF;
 * invalid UTF-8) become U+FFFD; CR is sent as &#xD; so it survives.
 *
 * Errors (ERR_INTERNAL: a handler or dispatcher bug, never the client's):
 * svc is not a Query service, op is unknown, out is not an object, a value
 * of the wrong JSON type for its shape (the message names the member path,
 * e.g. "Users.2.CreateDate"), a null list element or map value, a timestamp
 * outside years 1970..9999, nesting deeper than XMLOUT_MAX_DEPTH, or b
 * failing (its cap).  On error b holds a partial document: discard it.
 * `out` is not modified.
 */
int xmlout_render(const struct model_service *svc, const char *op, json_t *out, const char *request_id,
		  struct buf *b, struct emu_err *err);

#endif
