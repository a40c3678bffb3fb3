/* tests/unit/test_xml.c - XML writing and escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/xml.h"

static void check(const char *in, const char *want)
{
	struct strbuf b = STRBUF_INIT;

	xml_escape(&b, in);
	assert_string_equal(sb_cstr(&b), want);
	sb_free(&b);
}

static void test_escape_specials(void **state)
{
	(void)state;
	check("plain", "plain");
	check("", "");
	check("a<b>&\"c'", "a&lt;b&gt;&amp;&quot;c&apos;");
	check("]]>", "]]&gt;");
	check("t\tn\nr\r", "t&#9;n&#10;r&#13;");
}

static void test_escape_invalid(void **state)
{
	(void)state;
	check("a\x01" "b", "a\xEF\xBF\xBD" "b");               /* C0 control */
	check("\xC3\xA9", "\xC3\xA9");                          /* valid 2-byte */
	check("\xE2\x82\xAC", "\xE2\x82\xAC");                  /* valid 3-byte */
	check("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80");          /* valid 4-byte */
	check("\xC3", "\xEF\xBF\xBD");                          /* truncated */
	check("\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD");          /* overlong */
	check("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* surrogate */
	check("\xEF\xBF\xBE", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* U+FFFE */
	check("\xFF", "\xEF\xBF\xBD");
}

static void test_elements(void **state)
{
	struct strbuf b = STRBUF_INIT;

	(void)state;
	xml_decl(&b);
	xml_open(&b, "R");
	xml_elem(&b, "UserName", "a&b");
	xml_elem(&b, "Empty", NULL);
	xml_elemf(&b, "N", "%d<", 42);
	xml_close(&b, "R");
	assert_string_equal(b.p, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				 "<R><UserName>a&amp;b</UserName><Empty/><N>42&lt;</N></R>");
	sb_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_specials),
		cmocka_unit_test(test_escape_invalid),
		cmocka_unit_test(test_elements),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
