#include "bookgen.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define LINE_WIDTH 70
#define WORD_CAP 32
/* A token (space, word or phrase, punctuation, paragraph break) is at most
 * this long; the main loop stops when one might not fit, and the remaining
 * bytes are filled with words of exactly the right length. */
#define TOKEN_MAX (1 + WORD_CAP + 1 + 2)
#define HEAD_CAP 2048
#define FOOT_CAP 1024

struct word {
    char s[WORD_CAP]; /* zero padded so it is copied with a fixed size */
    unsigned char len;
};

#define W(x) { x, sizeof(x) - 1 }

/* One token in eight is one of the first COMMON_WORDS entries and one in
 * eight any word, which gives a natural-looking frequency distribution;
 * the rest are phrases. */
#define COMMON_WORDS 32
static const struct word words[] = {
    W("the"), W("of"), W("and"), W("to"), W("a"), W("in"), W("that"),
    W("it"), W("was"), W("he"), W("I"), W("his"), W("you"), W("with"),
    W("as"), W("for"), W("had"), W("her"), W("is"), W("not"), W("she"),
    W("at"), W("on"), W("be"), W("by"), W("but"), W("have"), W("which"),
    W("my"), W("all"), W("this"), W("from"),

    W("about"), W("above"), W("across"), W("after"), W("again"),
    W("against"), W("age"), W("ago"), W("air"), W("Alice"), W("almost"),
    W("alone"), W("along"), W("already"), W("also"), W("although"),
    W("always"), W("among"), W("an"), W("ancient"), W("another"),
    W("answer"), W("any"), W("anything"), W("appeared"), W("are"),
    W("arm"), W("around"), W("asked"), W("away"), W("back"), W("bad"),
    W("beautiful"), W("because"), W("bed"), W("been"), W("before"),
    W("began"), W("behind"), W("being"), W("believe"), W("beneath"),
    W("best"), W("better"), W("between"), W("beyond"), W("black"),
    W("blood"), W("blue"), W("boat"), W("body"), W("book"), W("both"),
    W("boy"), W("bread"), W("bright"), W("brother"), W("brought"),
    W("called"), W("came"), W("can't"), W("Captain"), W("carriage"),
    W("certain"), W("chamber"), W("child"), W("church"), W("city"),
    W("clear"), W("close"), W("cold"), W("come"), W("could"),
    W("couldn't"), W("country"), W("course"), W("dark"), W("Darcy"),
    W("daughter"), W("day"), W("dead"), W("dear"), W("death"),
    W("December"), W("deep"), W("did"), W("didn't"), W("dinner"),
    W("do"), W("does"), W("done"), W("don't"), W("door"), W("down"),
    W("dream"), W("during"), W("each"), W("early"), W("earth"),
    W("Elizabeth"), W("else"), W("end"), W("England"), W("enough"),
    W("even"), W("evening"), W("ever"), W("every"), W("eyes"), W("face"),
    W("fact"), W("fair"), W("far"), W("father"), W("father's"), W("fear"),
    W("feel"), W("felt"), W("few"), W("field"), W("fire"), W("first"),
    W("five"), W("followed"), W("foot"), W("forest"), W("found"),
    W("four"), W("friend"), W("full"), W("garden"), W("gave"),
    W("gentleman"), W("get"), W("girl"), W("give"), W("glass"), W("go"),
    W("God"), W("gold"), W("gone"), W("good"), W("great"), W("green"),
    W("ground"), W("half"), W("hand"), W("happy"), W("hard"), W("has"),
    W("head"), W("hear"), W("heard"), W("heart"), W("heaven"), W("help"),
    W("here"), W("high"), W("him"), W("himself"), W("hill"), W("Holmes"),
    W("home"), W("hope"), W("horse"), W("hour"), W("house"), W("how"),
    W("however"), W("I'm"), W("I'll"), W("idea"), W("if"), W("indeed"),
    W("into"), W("isn't"), W("it's"), W("its"), W("Jane"), W("John"),
    W("just"), W("keep"), W("kind"), W("king"), W("knew"), W("know"),
    W("Lady"), W("land"), W("large"), W("last"), W("late"), W("laughed"),
    W("least"), W("left"), W("letter"), W("life"), W("light"), W("like"),
    W("little"), W("London"), W("long"), W("look"), W("looked"),
    W("lord"), W("love"), W("made"), W("make"), W("man"), W("many"),
    W("Mary"), W("may"), W("me"), W("men"), W("might"), W("mind"),
    W("minute"), W("Miss"), W("moment"), W("Monday"), W("money"),
    W("morning"), W("most"), W("mother"), W("mother's"), W("mountain"),
    W("Mr"), W("Mrs"), W("much"), W("must"), W("myself"), W("name"),
    W("near"), W("never"), W("new"), W("night"), W("no"), W("nothing"),
    W("now"), W("o'clock"), W("old"), W("once"), W("one"), W("only"),
    W("open"), W("or"), W("other"), W("our"), W("out"), W("over"),
    W("own"), W("paper"), W("Paris"), W("part"), W("passed"), W("people"),
    W("perhaps"), W("place"), W("poor"), W("power"), W("present"),
    W("quite"), W("rather"), W("read"), W("replied"), W("rest"),
    W("returned"), W("river"), W("road"), W("room"), W("round"),
    W("said"), W("same"), W("sat"), W("saw"), W("say"), W("sea"),
    W("second"), W("see"), W("seemed"), W("seen"), W("shall"),
    W("she'd"), W("ship"), W("should"), W("side"), W("silence"),
    W("since"), W("Sir"), W("sister"), W("small"), W("so"), W("soft"),
    W("some"), W("something"), W("soon"), W("soul"), W("sound"),
    W("speak"), W("spirit"), W("stand"), W("still"), W("stood"),
    W("story"), W("strange"), W("street"), W("strong"), W("such"),
    W("sudden"), W("sun"), W("sure"), W("table"), W("take"), W("taken"),
    W("tell"), W("than"), W("that's"), W("their"), W("them"), W("then"),
    W("there"), W("there's"), W("these"), W("they"), W("thing"),
    W("think"), W("Thomas"), W("those"), W("though"), W("thought"),
    W("three"), W("through"), W("till"), W("time"), W("told"), W("too"),
    W("took"), W("town"), W("tree"), W("true"), W("turned"), W("two"),
    W("under"), W("until"), W("up"), W("upon"), W("us"), W("very"),
    W("voice"), W("walked"), W("wall"), W("want"), W("war"), W("water"),
    W("Watson"), W("way"), W("we"), W("we'll"), W("well"), W("went"),
    W("were"), W("what"), W("when"), W("where"), W("while"), W("white"),
    W("who"), W("whole"), W("why"), W("wife"), W("wind"), W("window"),
    W("woman"), W("won't"), W("word"), W("work"), W("world"), W("would"),
    W("wouldn't"), W("year"), W("yes"), W("yet"), W("young"), W("you're"),
    W("your"),
};

/* Most tokens are short phrases built from the vocabulary: the cost is per
 * token, and the server must generate hundreds of MB/s for benchmarks. */
static const struct word phrases[] = {
    W("the old man"), W("in the garden"), W("said Elizabeth"),
    W("don't you think"), W("at the end of the day"), W("for a long time"),
    W("with a heavy heart"), W("on the other hand"), W("as soon as possible"),
    W("in the morning"), W("she looked at him"), W("he did not answer"),
    W("it was late"), W("Mr Darcy"), W("Mrs Bennet"), W("Captain Holmes"),
    W("of the house"), W("upon my word"), W("I can't say"), W("we shall see"),
    W("there was nothing to be done"), W("all the while"),
    W("her father's letter"), W("the little girl"), W("by the fire"),
    W("into the dark"), W("out of the window"), W("across the river"),
    W("under the old tree"), W("in the middle of the night"),
    W("the King of England"), W("for the first time"), W("a great deal"),
    W("I'm afraid"), W("it's quite true"), W("you're right"), W("that's all"),
    W("there's no doubt"), W("I'll tell you"), W("we'll go tomorrow"),
    W("she'd never seen"), W("they were gone"), W("his mother's voice"),
    W("at last"), W("in spite of everything"), W("without a word"),
    W("no one knew"), W("the whole world"), W("a few minutes later"),
    W("long ago"), W("near the church"), W("at the door"),
    W("as if by magic"), W("from London to Paris"), W("Miss Mary"),
    W("Sir Thomas"), W("Lady Jane"), W("the young gentleman"),
    W("his brother John"), W("in silence"), W("with great care"),
    W("on Monday morning"), W("in December"), W("by God"),
    W("my dear friend"), W("the poor woman"), W("a strange story"),
    W("the white horse"), W("the green hill"), W("through the forest"),
    W("beneath the stars"), W("beyond the sea"), W("along the road"),
    W("toward the town"), W("half an hour"), W("five o'clock"),
    W("the next day"), W("every evening"), W("once more"), W("not at all"),
    W("if you please"), W("said he"), W("replied she"), W("asked the boy"),
    W("cried Alice"), W("whispered Watson"), W("and so"), W("but then"),
    W("yet still"), W("although"), W("however"), W("indeed"), W("perhaps"),
    W("of course"), W("after all"), W("in truth"), W("for ever"),
    W("nevertheless"), W("the sun was shining"), W("the wind was cold"),
    W("the water was deep"), W("the room was dark"),
    W("her eyes were bright"), W("his face was pale"), W("the door was open"),
    W("the night was long"), W("it was a bright cold day"),
    W("and the clocks were striking"), W("it is a truth universally known"),
    W("she walked slowly"), W("he turned away"), W("they sat down"),
    W("we went home"), W("you must believe me"), W("I do not know"),
    W("nobody could tell"), W("something had happened"),
    W("everything was still"), W("the story of his life"),
    W("a letter from home"), W("the gold of the king"),
    W("the blood of the ancient war"), W("the soul of the city"),
    W("a dream of the deep sea"), W("the spirit of the age"),
    W("the power of love"), W("a kind of fear"), W("a sort of hope"),
    W("the heart of the matter"), W("in the country"), W("on the table"),
    W("by the wall"), W("near the bed"), W("on the paper"), W("in the book"),
    W("to the ship"), W("from the boat"), W("after dinner"),
    W("before the war"), W("during the evening"), W("until the morning"),
    W("since that time"), W("while she slept"), W("when he came"),
    W("where they stood"), W("why it was so"), W("who could say"),
    W("which way to go"), W("what he had done"), W("how strange it seemed"),
};

/* Indexed by length: lets the tail of a block be filled exactly.  Two
 * sets so block endings do not all read the same. */
static const char *const filler[2][13] = {
    { "", "a", "of", "the", "said", "which", "little", "another",
      "together", "something", "everything", "opportunity", "nevertheless" },
    { "", "I", "to", "and", "upon", "there", "though", "himself",
      "daughter", "beautiful", "everywhere", "observation", "disappointed" },
};
#define FILLER_MAX 12

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct gen {
    char *out;
    size_t pos;
    size_t line;
    bool capital; /* next word starts a sentence */
    uint64_t rng;
};

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t pick(uint64_t r, size_t n)
{
    /* Multiply-shift instead of modulo: unbiased enough and branch free. */
    return (size_t)(((r >> 32) * (uint64_t)n) >> 32);
}

/* Indexed by 7 random bits; zero means no punctuation.  Entries
 * SENTENCE_END_FIRST..+SENTENCE_END_COUNT end a sentence.  A lookup instead
 * of comparisons: random branches would dominate the generation cost. */
static const char punct_table[128] = ",,,,,,,,,,,,...........?!?;;";
#define SENTENCE_END_FIRST 12u
#define SENTENCE_END_COUNT 14u

/* Written with few branches: every choice here is random, so branches
 * would be mispredicted constantly and the generator has to keep up with
 * benchmark traffic. */
static void emit_token(struct gen *g)
{
    uint64_t r = splitmix64(&g->rng);
    unsigned kind = (unsigned)r & 7;
    const struct word *table = kind >= 2 ? phrases : words;
    size_t range = kind >= 2 ? COUNT(phrases) : kind ? COUNT(words) : COMMON_WORDS;
    const struct word *w = &table[pick(r, range)];
    unsigned p = (unsigned)(r >> 8) & 127;
    char punct = punct_table[p];
    bool ends = p - SENTENCE_END_FIRST < SENTENCE_END_COUNT;
    size_t len = w->len + (punct != 0);
    bool sep = g->line > 0;
    bool wrap = g->line + 1 + len > LINE_WIDTH;
    char *o = g->out + g->pos;

    o[0] = wrap ? '\n' : ' ';
    o += sep;
    memcpy(o, w->s, WORD_CAP);
    o[0] = (char)(o[0] - 32 * (g->capital & (o[0] >= 'a') & (o[0] <= 'z')));
    o[w->len] = punct;
    g->pos += sep + len;
    g->line = (sep && wrap ? 0 : g->line + sep) + len;
    g->capital = ends;
    if (ends && ((r >> 16) & 7) == 0) {
        g->out[g->pos++] = '\n';
        g->out[g->pos++] = '\n';
        g->line = 0;
    }
}

/* Fills exactly r bytes with words so that every block has the same size
 * without cutting a word in half. */
static void emit_exact(struct gen *g, size_t r)
{
    bool space = g->line > 0;
    const char *const *fill = filler[splitmix64(&g->rng) & 1];

    if (space && g->line + r > LINE_WIDTH + 8) {
        g->out[g->pos++] = '\n';
        r--;
        space = false;
    }
    while (r > 0) {
        if (space) {
            if (r == 1) {
                g->out[g->pos++] = '.';
                return;
            }
            g->out[g->pos++] = ' ';
            r--;
        }
        size_t k = r <= FILLER_MAX ? r : (r - 2 < FILLER_MAX ? r - 2 : FILLER_MAX);
        memcpy(g->out + g->pos, fill[k], k);
        g->pos += k;
        r -= k;
        space = true;
    }
}

/* out must have room for JG_BOOKGEN_BLOCK + WORD_CAP bytes: words are
 * copied with a fixed size. */
static void gen_block(uint64_t book, uint64_t index, char *out)
{
    uint64_t seed = book ^ 0x6a09e667f3bcc909ULL;
    struct gen g = { .out = out, .capital = true };
    const size_t last = JG_BOOKGEN_BLOCK - 1;

    g.rng = splitmix64(&seed) ^ index * 0xd1342543de82ef95ULL;
    while (g.pos + TOKEN_MAX <= last)
        emit_token(&g);
    emit_exact(&g, last - g.pos);
    out[last] = '\n';
}

static size_t middle_read(uint64_t book, uint64_t off, char *dst, size_t n)
{
    char block[JG_BOOKGEN_BLOCK + WORD_CAP];
    size_t done = 0;

    while (done < n) {
        uint64_t index = off / JG_BOOKGEN_BLOCK;
        size_t in = (size_t)(off % JG_BOOKGEN_BLOCK);
        size_t take = JG_BOOKGEN_BLOCK - in;

        if (take > n - done)
            take = n - done;
        gen_block(book, index, block);
        memcpy(dst + done, block + in, take);
        done += take;
        off += take;
    }
    return done;
}

static size_t format_header(uint64_t book, char *buf)
{
    int n = snprintf(buf, HEAD_CAP,
        "The Project Gutenberg eBook of Book %" PRIu64 "\r\n"
        "    \r\n"
        "This ebook is for the use of anyone anywhere in the United States and\r\n"
        "most other parts of the world at no cost and with almost no restrictions\r\n"
        "whatsoever. You may copy it, give it away or re-use it under the terms\r\n"
        "of the Project Gutenberg License included with this ebook or online\r\n"
        "at www.gutenberg.org. If you are not located in the United States,\r\n"
        "you will have to check the laws of the country where you are located\r\n"
        "before using this eBook.\r\n"
        "\r\n"
        "Title: Book %" PRIu64 "\r\n"
        "\r\n"
        "Author: Anonymous\r\n"
        "\r\n"
        "Release date: January 1, 2022 [eBook #%" PRIu64 "]\r\n"
        "\r\n"
        "Language: English\r\n"
        "\r\n"
        "Credits: Generated by jg-testserver\r\n"
        "\r\n"
        "\r\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK BOOK %" PRIu64 " ***\r\n"
        "\r\n",
        book, book, book, book);
    return (size_t)n;
}

static size_t format_footer(uint64_t book, char *buf)
{
    int n = snprintf(buf, FOOT_CAP,
        "\r\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK BOOK %" PRIu64 " ***\r\n"
        "\r\n"
        "Updated editions will replace the previous one--the old editions will\r\n"
        "be renamed. This generated text is free of copyright: you may copy,\r\n"
        "give away or re-use it under the terms of the license included with\r\n"
        "the original Project Gutenberg works, and it is provided for testing\r\n"
        "only, without warranty of any kind.\r\n",
        book);
    return (size_t)n;
}

/* Copies the part of [seg, seg + len) (in book coordinates) that overlaps
 * the request [off, off + n) into dst, which maps to off. */
static void copy_fixed(const char *src, uint64_t seg, size_t len,
                       uint64_t off, char *dst, size_t n)
{
    uint64_t lo = off > seg ? off : seg;
    uint64_t hi = off + n < seg + len ? off + n : seg + len;

    if (lo < hi)
        memcpy(dst + (lo - off), src + (lo - seg), (size_t)(hi - lo));
}

size_t jg_bookgen_read(uint64_t book, uint64_t size, uint64_t offset,
                       char *dst, size_t n)
{
    char head[HEAD_CAP], foot[FOOT_CAP];
    size_t hl = format_header(book, head);
    size_t fl = format_footer(book, foot);
    uint64_t mid = size > hl + fl ? size - hl - fl : 0;

    if (offset >= size)
        return 0;
    if (n > size - offset)
        n = (size_t)(size - offset);

    copy_fixed(head, 0, hl, offset, dst, n);
    uint64_t lo = offset > hl ? offset : hl;
    uint64_t hi = offset + n < hl + mid ? offset + n : hl + mid;
    if (lo < hi)
        middle_read(book, lo - hl, dst + (lo - offset), (size_t)(hi - lo));
    copy_fixed(foot, hl + mid, fl, offset, dst, n);
    return n;
}

size_t jg_bookgen_fill_read(char byte, uint64_t size, uint64_t offset,
                            char *dst, size_t n)
{
    if (offset >= size)
        return 0;
    if (n > size - offset)
        n = (size_t)(size - offset);
    memset(dst, byte, n);
    return n;
}
