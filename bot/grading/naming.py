"""Does a sentence say something, or only name things? An offline check of the judge's evidence.

An answer can be padded with a sentence built to be quoted: the key points' topics, one after
another, with nothing said about any of them ("Key ideas: co-adaptation, ensembles of thinned
networks and inverted dropout."; "Sigmoid saturation matters, and so does leaky ReLU."). A
judge that matches topics credits such a sentence; the support check agrees, because the words
are the key point's own. What such a sentence lacks is an assertion: no verb relates its items.

:func:`asserts_something` looks for one without a part-of-speech model (nothing may download
one): after cutting vacuous frames -- a leading header ("In short:"), an imperative cue ("Think
..."), predicates that say only that something is relevant ("matters", "is part of the story",
"comes down to", "ties into", "so is") -- the sentence asserts something when it still holds an
auxiliary, copula or modal verb, a clause-forming word ("which", "because", "so that"...), or a
verb form in a verb's position (an ``-s``/``-ed`` form after a subject pronoun or before an
object, a known explanation verb, a present participle after a comma that takes an object).

It errs towards "asserts": a real answer written in telegraphic style may have no verb, and it
must not lose its points because of that, so the grader applies this check only to the
sentences a judge quoted as evidence, and only for key points that assert something themselves.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Auxiliaries, copulas and modals: a clause with one of them asserts something.
_AUXILIARIES = frozenset(
    "is are was were be been being am isn't aren't wasn't weren't has have had hasn't haven't "
    "does do did doesn't don't didn't can cannot can't could couldn't will won't would "
    "wouldn't shall should shouldn't may might must mustn't 's 're 've 'll 'd".split()
)
#: Words that open a clause (and so bring a verb with them).
_CLAUSE_WORDS = frozenset(
    "which who whom whose because since therefore thus hence so unless whereas while whenever "
    "when if although though otherwise instead whether whereby".split()
)
#: Subject pronouns: the word after one of them is a verb.
_SUBJECTS = frozenset("it they he she we you i this these those that which who".split())
#: Words that start a noun phrase: a verb is often followed by one (its object).
_OBJECT_STARTERS = frozenset(
    "the a an each every its their his her our your this these those them it all any no "
    "both more less fewer most some many several one two".split()
)
_PREPOSITIONS = frozenset(
    "to from by with into onto on in at over under through across towards toward against "
    "between among within without out up down off away back apart".split()
)
#: Verbs an explanation uses that are rarely nouns: any inflected form of one is a verb, and so
#: is the base form after a plural subject ("LLMs use SwiGLU").
_CLEAR_VERB_BASES = """
    add address adopt allow apply approximate assign avoid become behave blow break bring build
    capture catch cause check give handle matter come connect decode detect draw embed exploit guess hide insist
    plot power query recognise recognize show sit spend spread summarise summarize sweep unroll
    use
    choose combine compare compute contain converge correspond create decide define depend
    describe destroy determine differ divide enable encourage ensure estimate explode fail find
    flatten follow force generalise generalize get give go grow help hold hurt ignore improve
    include introduce keep kill lead learn let look lose lower make mean measure minimise
    minimize move multiply normalise normalize pass penalise penalize predict prefer prevent
    produce provide push raise reach reduce rely remain remove replace represent require
    rescale run saturate see select send shrink slow smooth solve speed squash stabilise
    stabilize stall stay stop subtract suffer take tend treat turn vanish vary work yield
    zero zeroe zeroes
"""
#: Verbs that are as often nouns ("cell-state updates"): they count only before an object.
_AMBIGUOUS_VERB_BASES = """
    change cost cut decay drop increase decrease limit log map need return sample scale set
    shift skip split step sum switch test update weight label fit mix state gate train
"""


def _forms(bases: str) -> frozenset[str]:
    forms: set[str] = set()
    for base in bases.split():
        forms.add(base)
        if base.endswith("y") and base[-2:-1] not in "aeiou":
            forms.update({base[:-1] + "ies", base[:-1] + "ied"})
        elif base.endswith(("s", "sh", "ch", "x", "z", "o")):
            forms.update({base + "es", base + "ed"})
        else:
            forms.update({base + "s", base + ("d" if base.endswith("e") else "ed")})
    return frozenset(forms)


_CLEAR_VERBS = _forms(_CLEAR_VERB_BASES)
_CLEAR_BASES = frozenset(_CLEAR_VERB_BASES.split())
_AMBIGUOUS_VERBS = _forms(_AMBIGUOUS_VERB_BASES)
#: Leading "Header:" of up to five words ("Key ideas:", "In short:", "My checklist for this:").
_HEADER = re.compile(r"^\W*(?:[^\W\d_][\w'’-]*\s+){0,4}[^\W\d_][\w'’-]*\s*[:—–]\s+")
#: Imperative cues that introduce a list rather than a claim.
_CUE = re.compile(
    r"^\W*(?:think(?:\s+(?:of|about))?|consider|remember|recall|note|keywords?|see|cf\.?)\s+",
    re.IGNORECASE,
)
#: Predicates that assert nothing about their subject: it is relevant, it matters, ...
_VACUOUS = re.compile(
    r"\b(?:(?:is|are|was|were)\s+(?:all\s+|both\s+|also\s+|each\s+)?(?:(?:very|highly|quite)\s+)?"
    r"(?:relevant|important|key|central|crucial|essential|notable|involved|at play|in play|"
    r"worth (?:noting|mentioning|knowing)|part of (?:the|this) (?:story|picture|answer|topic)|"
    r"(?:the|some of the) (?:main|key|important|relevant) (?:ideas?|points?|things?|pieces?))"
    r"(?:\s+(?:here|too|as well|to this|to it))?"
    r"|\bmatter(?:s|ed)?(?=\s*(?:[.,;:!?)]|$|here\b|too\b|and\b|a lot\b|most\b))|(?:it\s+)?(?:all\s+)?(?:comes?|boils?)\s+down\s+to"
    r"|\b(?:this\s+|it\s+)?ties?\s+(?:in)?to\b|\bso\s+(?:is|are|do|does|did)\b"
    r"|\b(?:the\s+)?(?:pieces|things|ideas|points|parts|concepts|words|terms)\s+(?:that\s+)?"
    r"(?:matter|count|to (?:know|remember))\s+(?:are|is)\b)",
    re.IGNORECASE,
)
#: Base forms an instruction starts with ("Measure recall, ...", "Split by time, ...").
_IMPERATIVES = frozenset(
    """
    add apply avoid build calibrate call check choose clip collect compare compute compress
    convert decay define deploy detect divide drop evaluate fine-tune fit freeze handle impute
    increase keep label log lower measure minimise minimize monitor multiply normalise normalize
    pick plot prune quantise quantize raise reduce regularise regularize remove replace report
    rescale resample retrain return run sample scale select set shard shuffle sort split start
    stop store subtract switch take test track train tune unfreeze update use validate warm
    watch weight write
    """.split()
)
_STOPS = frozenset({"", ".", ",", ";", ":", "!", "?", ")"})
_NUMBERS = re.compile(r"[=≈≤≥<>×÷]|\d\s*[-+*/^]\s*\d|\d%")
_ITEM_BREAK = re.compile(r"[,;]|\s(?:and|or)\s|\s[-–—]\s")
_WORD = re.compile(r"[^\W\d_][\w'’-]*|[.,;:!?()]")


def _words(text: str) -> list[str]:
    return [word.casefold().replace("’", "'") for word in _WORD.findall(text)]


@lru_cache(maxsize=4096)
def names_without_asserting(sentence: str) -> bool:
    """Whether a sentence only names things: it asserts nothing, and it is framed as a list
    (an imperative cue or a vacuous predicate was cut) or enumerates at least three items."""
    text = _strip_header(sentence)
    cued = _CUE.sub("", text, count=1)
    stripped = _VACUOUS.sub(" , ", cued)
    framed = cued != text or stripped != cued
    if _asserts(stripped):
        return False
    items = [item for item in _ITEM_BREAK.split(stripped) if re.search(r"[^\W\d_]{2,}", item)]
    return framed or len(items) >= 3


def asserts_something(sentence: str) -> bool:
    """Whether a sentence asserts something about its subject (see the module docstring)."""
    text = _strip_header(sentence)
    return _asserts(_VACUOUS.sub(" , ", _CUE.sub("", text, count=1)))


def _strip_header(sentence: str) -> str:
    """The sentence without a leading "Header:" -- unless the header is itself a clause."""
    header = _HEADER.match(sentence)
    if header is None or _asserts(header.group()):
        return sentence
    return sentence[header.end() :]


def _asserts(text: str) -> bool:
    if _NUMBERS.search(text) or len(re.findall(r"\d+(?:\.\d+)?", text)) >= 3:
        return True  # numbers and formulas are statements in themselves
    words = _words(text)
    determiners = _OBJECT_STARTERS | _PREPOSITIONS
    for index, word in enumerate(words):
        before = words[index - 1] if index else ""
        after = words[index + 1] if index + 1 < len(words) else ""
        if word in _AUXILIARIES or word in _CLAUSE_WORDS:
            return True
        if word in _IMPERATIVES and before in {"", ",", ";", ":", "then", "and", "or", "("}:
            return True
        if word in _CLEAR_VERBS and before not in determiners:
            if word.endswith("ed") and after not in _OBJECT_STARTERS | _PREPOSITIONS | _STOPS:
                continue  # a participle before a noun ("stalled training") is an adjective
            if word not in _CLEAR_BASES or before.endswith("s") or before in _SUBJECTS:
                return True
            if before.endswith("ly") or after in _OBJECT_STARTERS:
                return True
        if word in _AMBIGUOUS_VERBS and after in _OBJECT_STARTERS and before not in determiners:
            return True
        if (
            before in _SUBJECTS
            and before not in {"that", "this", "these", "those"}
            and (word.endswith(("s", "ed")))
        ):
            return True
        if (
            word.endswith(("s", "ed"))
            and len(word) > 3
            and not word.endswith(("ss", "us", "is"))
            and (after in _OBJECT_STARTERS or (word.endswith("ed") and after in _PREPOSITIONS))
            and before not in determiners
        ):
            return True
        if (
            word.endswith("ing")
            and before in {",", ";", "by", "thereby"}
            and after in _OBJECT_STARTERS
        ):
            return True
    return False
