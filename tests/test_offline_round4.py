"""Round 4 of the offline engine (evals/TRAINING.md): editorial sites, thin pages counted
in content words, and commerce links crawled first."""

from __future__ import annotations

import pytest

from agent.offline import site_snippets
from agent.offline.editorial import editorial_markers, editorial_site, sells
from agent.offline.outcome import THIN_CONTENT_WORDS, THIN_WORDS
from agent.offline.site_status import content_words, site_status
from merchant_review.pages import PageSnapshot
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import SiteStatus
from tests.test_offline_engine import assess, categories, decision, page, site
from tools.links import link_priority

NEWS_FRONT = (
    "Latest news\nHeadlines\nSports news: cup final tonight\nSports betting\n"
    "Opinion: the new stadium plan\nRead more from our columnist\nSign up to our newsletter"
)
CUP_STORY = (
    "Cup final report",
    "The home side won the cup final 2-1 in front of a full stadium on Saturday night. "
    "Both goals came after the break, and the visitors pressed hard until the last whistle. "
    "The manager praised the young defenders and said the squad would rest before the "
    "league restarts next month.",
)
ABOUT = (
    "About us",
    "We are a small team that has run this site since 2015 from a shared office in town.",
)
BETTING_TIPS = (
    "Latest news\nHeadlines\nOpinion: the derby\nBetting tips for the weekend\n"
    "Best odds boosts from every bookmaker\nRead more from our columnist"
)


async def test_a_topic_named_on_a_news_site_is_not_a_finding() -> None:
    pages = site("daily-sport.example", {"/": ("Daily Sport", NEWS_FRONT), "/cup/": CUP_STORY})
    assessment = await assess(pages)
    assert assessment.findings == []
    assert decision(assessment) is Decision.APPROVE


async def test_the_same_words_on_a_site_that_sells_stay_evidence() -> None:
    shop = NEWS_FRONT + "\nMatch ticket $25\nAdd to cart"
    pages = site("daily-sport.example", {"/": ("Daily Sport", shop)})
    assert Category.GAMBLING in categories(await assess(pages))


async def test_a_news_site_about_betting_still_makes_a_finding() -> None:
    pages = site("tips-daily.example", {"/": ("Tips Daily", BETTING_TIPS)})
    assert Category.GAMBLING in categories(await assess(pages))


def test_editorial_markers_and_commerce() -> None:
    news = site_snippets(site("n.example", {"/": ("N", NEWS_FRONT)}))
    assert {"news", "headline", "opinion", "columnist"} <= editorial_markers(news)
    assert editorial_site(news) and not sells(news)
    shop = site_snippets(site("s.example", {"/": ("S", "News\nHeadlines\nOpinion\nTea $9")}))
    assert sells(shop) and not editorial_site(shop)


def _one_page(text: str) -> list[PageSnapshot]:
    return [page("https://one.example/", text, "One")]


def test_content_words_leave_function_words_out() -> None:
    snippets = site_snippets(_one_page("We ship our teas to you with care"))
    assert content_words(snippets) == 3  # ship, teas, care


async def test_a_thin_page_is_counted_in_words_and_content_words() -> None:
    # 63 words of ordinary copy, under half of them content words: too thin.
    copy = "We are so happy that you are here with us and we hope that you will like it. " * 3
    thin = _one_page(copy + "Our shop is for you and all of your family and friends.")
    status = site_status(thin, site_snippets(thin))
    assert status.words < THIN_WORDS and status.content_words < THIN_CONTENT_WORDS
    assert decision(await assess(thin)) is Decision.ESCALATE
    # As many words without function words (a stripped text dump) is not thin.
    dense = " ".join(f"tea{n} kettle{n} cup{n}" for n in range(22))
    rich = _one_page(dense)
    status = site_status(rich, site_snippets(rich))
    assert status.status is SiteStatus.OPERATING
    assert status.words < THIN_WORDS and status.content_words >= THIN_CONTENT_WORDS
    assert decision(await assess(rich)) is Decision.APPROVE
    # Ordinary copy of THIN_WORDS words or more is not thin, however few content words.
    longer = _one_page(copy * 2)
    status = site_status(longer, site_snippets(longer))
    assert status.words >= THIN_WORDS and status.content_words < THIN_CONTENT_WORDS
    assert decision(await assess(longer)) is Decision.APPROVE


@pytest.mark.parametrize(
    ("url", "priority"),
    [
        ("https://s.example/wholesale.html", 0),
        ("https://s.example/bulk-orders", 0),
        ("https://s.example/venta-mayorista", 0),
        ("https://s.example/grosshandel", 0),
        ("https://s.example/vente-grossiste", 0),
        ("https://s.example/our-story.html", 1),
        ("https://s.example/blog/wholesale-news", 2),
    ],
)
def test_commerce_pages_are_crawled_first(url: str, priority: int) -> None:
    assert link_priority(url) == priority


@pytest.mark.parametrize(
    "sentence",
    [
        "Europes best weed and hash, shipped worldwide.",
        "Indoor strains and outdoor strains, grown by our own farmers.",
        "We have over 30 strands of weed from our own farmers.",
        "The worlds best opiates, in stock now.",
        "Pure gamma-butyrolactone, sold as a wheel cleaner.",
    ],
)
async def test_round4_darknet_families_make_a_finding(sentence: str) -> None:
    pages = site("green.example", {"/": ("Green", sentence), "/about/": ABOUT})
    assert Category.ILLEGAL_DRUGS in categories(await assess(pages))


async def test_meth_in_a_news_report_is_no_finding() -> None:
    report = "Police seized meth worth two million dollars, the news agency reported."
    pages = site("city-news.example", {"/": ("City News", report), "/about/": ABOUT})
    assert Category.ILLEGAL_DRUGS not in categories(await assess(pages))


def test_a_notice_stands_on_its_own() -> None:
    listing = (
        "Box office showtimes tickets near you, theaters in your city, coming soon to "
        "theaters, movie news, spotlight interviews, trailers and the most popular shows"
    )
    pages = _one_page(listing + "\n" + "Stream films and series with a free account today.")
    assert site_status(pages, site_snippets(pages)).status is SiteStatus.OPERATING
    notice = _one_page("Our new shop is coming soon.\nLeave your e-mail address below.")
    assert site_status(notice, site_snippets(notice)).status is SiteStatus.UNDER_CONSTRUCTION
