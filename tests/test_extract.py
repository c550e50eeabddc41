"""HTML extraction: readable visible text, hidden text kept apart, meta, alts, links."""

from __future__ import annotations

import pytest

from merchant_review.pages import quote_in_text
from tools.extract import decode_html, extract_page, is_hidden, resolve_link

PAGE_URL = "https://shop.example/catalog/teas.html"


def page(body: str, head: str = "") -> str:
    return f"<!doctype html><html lang='en'><head>{head}</head><body>{body}</body></html>"


def test_blocks_become_lines_and_inline_text_stays_together() -> None:
    extracted = extract_page(
        page(
            "<div class='card'><h2>Chamomile <em>Calm</em></h2>"
            "<p>Loose leaf, 100&nbsp;g — <span>$12.00</span></p></div>"
            "<ul><li>Organic</li><li>Caffeine<br>free</li></ul>"
            "<dl><dt>Do you ship abroad?</dt><dd>US only.</dd></dl>"
            "<table><tr><td>Size</td><td>100 g</td></tr></table>"
        ),
        PAGE_URL,
    )
    assert extracted.text.splitlines() == [
        "Chamomile Calm",
        "Loose leaf, 100 g — $12.00",
        "Organic",
        "Caffeine",
        "free",
        "Do you ship abroad?",
        "US only.",
        "Size",
        "100 g",
    ]


def test_preformatted_text_keeps_its_lines() -> None:
    extracted = extract_page(page("<pre>line one\nline two</pre>"), PAGE_URL)
    assert extracted.text.splitlines() == ["line one", "line two"]


def test_non_content_elements_are_dropped() -> None:
    extracted = extract_page(
        page(
            "<p>Shown</p><script>var secret = 1;</script><style>p{color:red}</style>"
            "<noscript>Enable JS</noscript><template><p>Tpl</p></template>"
            "<svg><title>Logo</title><text>SVG text</text></svg>"
            "<input type='hidden' name='sku' value='SKU-123'>"
        ),
        PAGE_URL,
    )
    assert extracted.text == "Shown"
    for absent in ("secret", "color", "Enable JS", "Tpl", "SVG text", "Logo", "SKU-123"):
        assert absent not in extracted.text
        assert absent not in extracted.hidden_text


@pytest.mark.parametrize(
    "hiding",
    [
        "<div style='display:none'>{}</div>",
        "<div style='DISPLAY: none !important'>{}</div>",
        "<div style='color:red; visibility: hidden'>{}</div>",
        "<span style='font-size:0px'>{}</span>",
        "<span style='opacity: 0.0'>{}</span>",
        "<p style='text-indent:-9999px'>{}</p>",
        "<p hidden>{}</p>",
        "<div aria-hidden='true'><p>{}</p></div>",
        "<!-- {} -->",
    ],
)
def test_hidden_text_is_kept_apart(hiding: str) -> None:
    extracted = extract_page(page("<p>Visible tea</p>" + hiding.format("buy kratom")), PAGE_URL)
    assert extracted.text == "Visible tea"
    assert extracted.hidden_text == "buy kratom"


def test_visible_styles_are_not_hidden() -> None:
    extracted = extract_page(
        page(
            "<p style='font-size: 0.9em'>Small print</p>"
            "<p style='opacity:0.5'>Faded</p><p aria-hidden='false'>Shown</p>"
        ),
        PAGE_URL,
    )
    assert extracted.text.splitlines() == ["Small print", "Faded", "Shown"]
    assert extracted.hidden_text == ""


def test_is_hidden_reads_attributes() -> None:
    from lxml import html

    root = html.fromstring("<div><p hidden>a</p><p style='display:block'>b</p><p>c</p></div>")
    first, second, third = root.iter("p")
    assert is_hidden(first) and not is_hidden(second) and not is_hidden(third)


def test_mid_document_doctype_does_not_split_anchor_text() -> None:
    # BeautifulSoup kept a stray <!DOCTYPE> as a node and joined "Faceb" + "ook" with a
    # space; libxml2's tree drops it, as browsers do.
    extracted = extract_page(page("<a href='/f'>Faceb<!DOCTYPE x>ook</a>"), PAGE_URL)
    assert [link.text for link in extracted.links] == ["Facebook"]


def test_content_after_a_stray_closing_html_is_still_read() -> None:
    extracted = extract_page(
        "<html><body><p>in</p></body></html><!-- note --><p>out <a href='/late'>late</a></p>",
        PAGE_URL,
    )
    assert "out late" in extracted.text and "note" in extracted.hidden_text
    assert [link.url for link in extracted.links] == ["https://shop.example/late"]


def test_anchor_text_leaves_out_script_ruby_and_template_strings() -> None:
    extracted = extract_page(
        page(
            "<a href='/a'>A<script>s()</script>B<rt>r</rt>C</a>"
            "<template><a href='/t'>T</a></template>"
        ),
        PAGE_URL,
    )
    texts = {link.url.rsplit("/", 1)[1]: link.text for link in extracted.links}
    assert texts == {"a": "A B C", "t": ""}


def test_title_meta_and_language() -> None:
    extracted = extract_page(
        page(
            "<h1>Body</h1>",
            head=(
                "<title> Greenleaf  Teas </title>"
                "<meta name='Description' content='Organic herbal teas'>"
                "<meta name='keywords' content='tea, herbal'>"
                "<meta property='og:title' content='Greenleaf'>"
                "<meta name='robots' content='noindex'>"
                "<meta name='generator' content='Shopify'>"
            ),
        ),
        PAGE_URL,
    )
    assert extracted.title == "Greenleaf Teas"
    assert extracted.meta == {
        "description": "Organic herbal teas",
        "keywords": "tea, herbal",
        "og:title": "Greenleaf",
        "robots": "noindex",
        "generator": "Shopify",
    }
    assert extracted.lang == "en"
    assert "Greenleaf Teas" not in extracted.text  # the title is not body text


def test_image_alts_are_collected_visible_only() -> None:
    extracted = extract_page(
        page(
            "<img src='a.png' alt='Dried chamomile flowers'><img src='b.png' alt=''>"
            "<div hidden><img src='c.png' alt='pill bottle'></div>"
        ),
        PAGE_URL,
    )
    assert extracted.image_alts == ["Dried chamomile flowers"]
    assert "pill bottle" in extracted.hidden_text


def test_links_are_absolute_fragment_free_and_http_only() -> None:
    extracted = extract_page(
        page(
            "<a href='green.html'>Green</a>"
            "<a href='../terms.html#refunds'>Terms</a>"
            "<a href='/faq'>FAQ</a>"
            "<a href='https://elsewhere.example/x'>Partner</a>"
            "<a href='//cdn.example/file.pdf'>Spec</a>"
            "<a href='mailto:a@b.example'>Mail</a><a href='tel:+1555'>Call</a>"
            "<a href='javascript:void(0)'>JS</a><a href='#top'>Top</a>"
            "<a href='green.html'><img src='g.png' alt='Green tea tin'></a>"
            "<a href=' /about\n.html '>About</a>"
        ),
        PAGE_URL,
    )
    assert [(link.url, link.text) for link in extracted.links] == [
        ("https://shop.example/catalog/green.html", "Green"),
        ("https://shop.example/terms.html", "Terms"),
        ("https://shop.example/faq", "FAQ"),
        ("https://elsewhere.example/x", "Partner"),
        ("https://cdn.example/file.pdf", "Spec"),
        ("https://shop.example/about.html", "About"),
    ]


def test_base_href_changes_how_links_resolve() -> None:
    extracted = extract_page(
        page("<a href='tea.html'>Tea</a><a href='../terms.html'>T</a>", head="<base href='/p/'>"),
        PAGE_URL,
    )
    assert extracted.base_url == "https://shop.example/p/"
    assert [link.url for link in extracted.links] == [
        "https://shop.example/p/tea.html",
        "https://shop.example/terms.html",
    ]


def test_resolve_link_rejects_what_cannot_be_fetched() -> None:
    assert resolve_link("data:text/html,hi", PAGE_URL) is None
    assert resolve_link("http://[bad", PAGE_URL) is None
    assert resolve_link("   ", PAGE_URL) is None
    assert resolve_link("x.html#a", PAGE_URL) == "https://shop.example/catalog/x.html"


def test_decoding_follows_declarations() -> None:
    cp1252 = "<meta charset='windows-1252'><p>Café – €5</p>".encode("cp1252")
    assert "Café – €5" in decode_html(cp1252)
    # The HTTP header wins over <meta>; a byte-order mark wins over both.
    latin = "<meta charset='utf-8'><p>Crème</p>".encode("latin-1")
    assert "Crème" in decode_html(latin, http_charset="iso-8859-1")
    bom = b"\xef\xbb\xbf" + "<p>Thé</p>".encode()
    assert decode_html(bom, http_charset="latin-1") == "<p>Thé</p>"
    assert decode_html("<p>naïve undeclared</p>".encode()) == "<p>naïve undeclared</p>"


def test_a_body_cut_inside_a_character_still_decodes() -> None:
    data = "<meta charset='utf-8'><p>Grüner Tee €</p>".encode()[:-6]  # cut inside "€"
    text = extract_page(data, PAGE_URL).text
    assert text.startswith("Grüner Tee")


def test_unknown_charset_falls_back_to_detection() -> None:
    data = b"<meta charset='x-no-such-codec'><p>plain ascii</p>"
    assert extract_page(data, PAGE_URL).text == "plain ascii"


def test_deeply_nested_markup_does_not_overflow() -> None:
    deep = "<div>" * 5000 + "bottom" + "</div>" * 5000
    assert "bottom" in extract_page(page(deep), PAGE_URL).text


def test_text_and_links_past_the_parsers_depth_limit_are_kept() -> None:
    # libxml2 builds no tree below 2,048 levels: evidence hidden that deep must still count.
    deep = "<div>" * 3000 + "hidden deep <a href='/deep'>deep</a>" + "</div>" * 3000
    markup = page(f"<p>top</p>{deep}<p>after</p>") + "<p>past html <a href='/past'>past</a></p>"
    extracted = extract_page(markup, PAGE_URL)
    assert extracted.text == "top\nhidden deep deep\nafter\npast html past"
    assert [link.url.rsplit("/", 1)[1] for link in extracted.links] == ["deep", "past"]
    assert extracted.lang == "en"


def test_quotes_of_visible_text_verify_and_hidden_ones_do_not() -> None:
    extracted = extract_page(
        page("<p>Refunds within\n  30 days.</p><div style='display:none'>No refunds ever</div>"),
        PAGE_URL,
    )
    assert quote_in_text("Refunds within 30 days.", extracted.text)
    assert not quote_in_text("No refunds ever", extracted.text)


def test_language_falls_back_to_meta() -> None:
    markup = "<html><head><meta http-equiv='content-language' content='de'></head><p>Tee</p>"
    assert extract_page(markup, PAGE_URL).lang == "de"
