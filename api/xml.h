/* api/xml.h - the small XML writer every AWS response goes through.
 *
 * Hand-written rather than libxml2's xmlTextWriter: responses are flat
 * sequences of elements and the only hard part is escaping, done here in
 * one place (see docs/api.md).  Text is escaped for both element content and
 * attribute values; characters XML 1.0 cannot carry at all (C0 controls other
 * than TAB/LF/CR, invalid UTF-8, U+FFFE/U+FFFF) become U+FFFD, and CR is written
 * as "&#13;" so a parser does not normalise it away. */
#ifndef API_XML_H
#define API_XML_H

#include "common/strbuf.h"

void xml_escape(struct strbuf *out, const char *s);
void xml_open(struct strbuf *out, const char *name);
void xml_close(struct strbuf *out, const char *name);
/* <name>escaped text</name>; NULL text writes <name/>. */
void xml_elem(struct strbuf *out, const char *name, const char *text);
void xml_elemf(struct strbuf *out, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void xml_decl(struct strbuf *out);

#endif
