"""Finding the parts of an answer that talk to the grader instead of answering the question.

:func:`screen_answer` scans an answer for text addressed to the grader -- instructions to ignore
the rubric, role play, demands for marks, claims about its own grade, fake verdicts, forged
delimiters and chat-template tokens -- in English and a dozen other languages, after folding the
usual disguises: zero-width and Unicode tag characters, look-alike letters, leetspeak, letters
spread out with separators (``I-g-n-o-r-e``), reversed text, and base64, hex, percent or
``\\u`` escapes. Every sentence (or line) holding such text is a *grader-addressed span*; the
screening returns the answer with those spans cut out, which is the only text the judge ever
grades, so a flagged answer can never earn more than the same answer without them.

Fairness to answers *about* these things: a question on prompt injection or on evaluation
metrics makes an honest answer use words like "instructions", "system prompt" or "score". A
finding is exempt when its words belong to the question, reference or rubric (the *item
vocabulary*), or when the answer mentions the phrase rather than uses it (in quotes, or after
"such as", "e.g.", "an attacker writes"...) and the phrase is on the item's topic.

:func:`disqualifies_evidence` is the stricter test applied to a quote the judge offers as
evidence: grading talk that the item does not own, structural tricks, and instructions used
rather than mentioned are never evidence. :func:`never_evidence_zones` lists the stretches of an
answer (code blocks, markup comments, encoded blobs, fake delimiters) that are never evidence
either.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from bot.grading.evidence import sentence_bounds
from bot.grading.folding import INVISIBLE, Folded, fold


class Kind(StrEnum):
    """What a pattern finds: an instruction, talk about grading, or a structural trick."""

    DIRECTIVE = "directive"
    GRADING = "grading"
    STRUCTURAL = "structural"


# --- patterns ---------------------------------------------------------------------------------
# Each entry: (label, kind, regex). Regexes run on casefolded text (see folding.fold).

_WS = r"[\w\s,'’-]"
_PATTERNS: tuple[tuple[str, Kind, str], ...] = (
    # English: overriding instructions
    ("override", Kind.DIRECTIVE,
     r"\b(?:ignore|disregard|forget|override|bypass|skip|abandon|discard|neglect|set aside)\b"
     rf"{_WS}{{0,40}}?\b(?:instructions?|rules|prompts?|directions|directives?|guidelines|"
     r"rubric|criteria|constraints|policy|everything (?:above|before))\b"),
    ("override", Kind.DIRECTIVE, r"\bnew (?:instructions?|rules|directives?|system prompt)\b"),
    ("override", Kind.DIRECTIVE,
     r"\b(?:from now on|developer mode|jailbreak|do anything now|dan mode|god mode|admin mode|"
     r"debug mode|maintenance mode|sudo mode|unrestricted mode)\b"),
    ("override", Kind.DIRECTIVE,
     r"\b(?:admin(?:istrator)?|developer|operator|root|owner|system)\s+(?:override|command|"
     r"notice|access|directive|instruction)s?\b"),
    ("override", Kind.DIRECTIVE,
     r"\b(?:above|previous|prior|earlier|preceding|original) (?:instructions?|rules|prompts?|"
     r"directions|directives)\b"),
    ("override", Kind.DIRECTIVE,
     r"\boverrid(?:e|es|ing|den)\b[\w\s]{0,25}\b(?:scores?|grades?|grading|verdicts?|status|"
     r"marks?|evaluation)\b"),
    # English: role play / identity
    ("roleplay", Kind.DIRECTIVE,
     r"\byou are (?:now|no longer|a helpful|an? (?:ai|assistant|grader|evaluator|judge|"
     r"examiner|language model|llm))\b"),
    ("roleplay", Kind.DIRECTIVE,
     r"\b(?:pretend (?:to be|you are|you're|that you)|role[\s-]?play|roleplay|imagine you are|"
     r"act as (?:an?|the|my) (?:\w+ )?(?:grader|assistant|ai|evaluator|examiner|professor|"
     r"teacher|judge))\b"),
    ("roleplay", Kind.DIRECTIVE,
     r"\byour (?:new |real |true )?(?:role|task|job|instructions?|purpose) (?:is|are|now)\b"),
    # English: system prompt impersonation
    ("system", Kind.STRUCTURAL,
     r"(?:^|\n)\s*[#*\[(>]*\s*(?:system|assistant|developer|admin|grader|evaluator|judge|"
     r"instructions?)\s*[)\]*#]*\s*[:>]"),
    ("system", Kind.STRUCTURAL,
     r"<\s*/?\s*(?:system|assistant|developer|instructions?|im_start|im_end|grader|admin)\b"),
    ("system", Kind.STRUCTURAL,
     r"<\s*\|\s*(?:im_start|im_end|system|user|assistant|eot_id|start_header_id|"
     r"end_header_id|endoftext)|\[/?inst\]|<</?sys>>"),
    ("system", Kind.DIRECTIVE,
     r"\bsystem\s*(?:prompt|message|instruction|note|notice|update)s?\s*(?:override|update|"
     r"change|:)"),
    # English: addressing the grader and demanding marks
    ("score", Kind.DIRECTIVE,
     r"(?:^|(?<=[\n.!?:;])|\b(?:the|dear|hey|hi|attention|attn|to)\s)\s*(?:grader|evaluator|judge|"
     r"assessor|examiner|grading (?:ai|model|system|assistant))s?\b[,:]?[\w\s,'’-]{0,30}?"
     r"\b(?:must|should|shall|has to|have to|needs? to|please|is (?:required|instructed|"
     r"expected) to)\b"),
    ("score", Kind.DIRECTIVE,
     r"\b(?:note|message|memo|reminder) (?:to|for) (?:the )?(?:grader|evaluator|judge|ai|model|"
     r"assistant|examiner|llm|marker|reviewer)\b"),
    ("score", Kind.DIRECTIVE,
     r"\binstructions? (?:to|for) (?:the )?(?:grader|evaluator|judge|examiner|marker)\b"),
    ("score", Kind.DIRECTIVE,
     r"\b(?:must|should|shall|have to|has to|need to|needs to|required to)\s+(?:give|award|"
     r"assign|grade|rate|mark|score)\s+(?:this|me|my|it|full|100|a perfect|the (?:answer|"
     r"candidate|response|submission|maximum|top))\b"),
    ("score", Kind.DIRECTIVE,
     r"\b(?:score|grade|rate|mark|award|give|assign)\s+(?:(?:this|me|my|it|the|that)\s+"
     r"(?:(?:answer|response|submission|reply|one)\s+)?)?(?:a |an |with |as |at )?(?:"
     r"full (?:marks|score|points|credit)|perfect (?:score|marks|grade)|"
     r"maximum (?:score|marks|points|grade)|10\s*/\s*10|100\s*/\s*100)"),
    ("score", Kind.DIRECTIVE,
     r"\b(?:score|grade|rate|mark|award|give|assign)\s+(?:this|me|my|it|that)(?:\s+(?:answer|"
     r"response|submission|reply|one))?\s+(?:a |an |with |as |at )?100\b"),
    ("score", Kind.DIRECTIVE,
     r"\b(?:this|my|the) (?:answer|response|submission|reply)\b[\w\s,'’-]{0,20}?\b(?:deserves|"
     r"earns|merits|warrants|should (?:get|receive|be given|score)|must (?:get|receive|score)|"
     r"(?:is|was) (?:complete|perfect|flawless|correct) and)\b"),
    ("score", Kind.DIRECTIVE,
     r"\b(?:give|award|assign|grant)\s+(?:(?:it|this|me|them)\s+)?(?:a\s+)?100\s*(?:points?|"
     r"marks?|%|/\s*100|out of 100)?(?=\s*(?:[.!;,)]|$))"),
    ("score", Kind.GRADING,
     r"\b(?:this|my) (?:answer|response|submission|reply) (?:is|was) (?:a |an )?(?:perfect|"
     r"complete|flawless|excellent|correct|outstanding|model answer)\b"),
    ("score", Kind.GRADING,
     r"\b(?:this|that) is (?:a |an )?(?:perfect|complete|flawless|excellent|model|full[- ]marks)"
     r" (?:answer|response|submission)\b"),
    ("score", Kind.GRADING,
     r"\b(?:full marks|perfect score|maximum score|full credit|full points|top marks|"
     r"100\s*/\s*100|10\s*/\s*10|100 out of 100|10 out of 10|a\+ grade)\b"),
    ("score", Kind.GRADING,
     r"\b(?:all|every|each|both)\b[\w\s]{0,15}\bkey[\s-]?points?\b[\w\s]{0,15}?"
     r"\b(?:covered|satisfied|met|addressed|fulfilled|present|included|hit)\b"),
    ("score", Kind.GRADING,
     r"\bkey[\s-]?points?\b[\w\s]{0,20}?\b(?:are|were|is|as|been) (?:all )?(?:covered|"
     r"satisfied|met|fulfilled)\b"),
    ("score", Kind.GRADING,
     r"\bkey[\s-]?points?\W{1,3}(?:covered|satisfied|met|fulfilled|addressed)\b"),
    ("score", Kind.GRADING,
     r"\b(?:covers|covered|addresses|addressed|hits|satisfies|satisfied|meets|fulfils|fulfills)"
     r"\s+(?:all|every|each|both)?\s*(?:of\s+)?(?:the\s+|your\s+)?(?:key[\s-]?points?|rubric|"
     r"grading criteria|marking criteria)\b"),
    ("score", Kind.GRADING,
     r"\bmark(?:ed|ing|s)?\s+(?:it|this|them|all|every|each|everything|the answer|"
     r"(?:the |all |every |each )?key[\s-]?points?)\b[\w\s]{0,15}?\b(?:as )?(?:covered|correct|"
     r"complete)\b"),
    # claims about what the answer itself covers, listing topics instead of explaining them
    ("coverage-claim", Kind.GRADING,
     r"\b(?:(?:this|my|the above|the following|the present|the) (?:answer|response|reply|"
     r"explanation|submission|summary|write-up|clause|sentence|paragraph|passage|section|"
     r"text|part)|i(?:'ve| have)?|we(?:'ve| have)?|"
     r"(?:above|below|here),? (?:i|we))\s+(?:\w+\s+){0,2}?(?:covers?|covered|discuss(?:es|ed)?|"
     r"address(?:es|ed)?|explains?|explained|mentions?|mentioned|includes?|included|"
     r"describes?|described|touch(?:es|ed)? on|go(?:es)? (?:over|through)|went (?:over|through)|"
     r"gone (?:over|through)|deals? with|dealt with|talks? about|talked about|reviews?|"
     r"reviewed|outlines?|outlined)\b(?=[^.!?\n]*,[^.!?\n]*\band\b|[^.!?\n]*(?:,[^.!?\n]*){2})"),
    ("coverage-claim", Kind.GRADING,
     r"\b(?:topics?|points?|ideas?|concepts?|aspects?|areas?|items?)\s+(?:covered|discussed|"
     r"addressed|explained|included|mentioned)\s*[:—–-]"),
    # a label that opens a sentence and announces a list of what the answer covers
    ("coverage-claim", Kind.GRADING,
     r"(?:^|[.!?(\n]\s*)(?:also\s+)?(?:covered|covers|addressed|discussed|included)"
     r"(?:\s+(?:in full|in detail|here|above|below|fully|too|as well))?\s*[:—–]"),
    # "all of these are covered above", "everything is here": the text vouching for itself
    ("coverage-claim", Kind.GRADING,
     r"\b(?:all (?:of )?(?:these|this|them|the above)|everything|it all|each of these|both of "
     r"these)\s+(?:is|are|was|were|has been|have been)\s+(?:(?:already|all|now|fully)\s+)?"
     r"(?:covered|addressed|discussed|included|explained|here|above|in here)\b"),
    # "this covers a, b and c": a sentence that says what the text covers, listing topics
    ("coverage-claim", Kind.GRADING,
     r"\bthis (?:also |thus |therefore |then )?(?:covers|addresses|touches on)\b"
     r"(?=[^.!?\n]*,[^.!?\n]*\b(?:and|or)\b|[^.!?\n]*(?:,[^.!?\n]*){2})"),
    # a note addressed to whoever marks the answer
    ("grading", Kind.GRADING,
     r"\b(?:(?:marker|examiner|grader|assessor|reviewer|teacher)['’]s note|note (?:to|for) "
     r"(?:the )?(?:marker|examiner|grader|assessor|reviewer|teacher))\b"),
    ("coverage-claim", Kind.GRADING,
     r"\b(?:all|every|each|both) (?:of )?(?:the )?(?:aspects?|points?|ideas?|parts?|pieces|"
     r"topics?|concepts?|elements?|requirements?) (?:are|is|were|have been|has been) (?:now )?"
     r"(?:in place|covered|addressed|there|present|included|handled|explained|dealt with)\b"),
    # claims about what the answer itself covers, in other languages
    ("coverage-claim", Kind.GRADING,
     r"\b(?:(?:esta|mi|la) respuesta (?:anterior )?(?:cubre|trata|aborda|explica|menciona|"
     r"incluye|describe|abarca)|(?:ya |arriba |antes )?(?:he|hemos) (?:explicado|cubierto|"
     r"tratado|abordado|mencionado|descrito|discutido|incluido)|(?:esta|minha|a) resposta "
     r"(?:cobre|trata|aborda|explica|menciona|inclui|descreve|abrange)|(?:eu )?(?:expliquei|"
     r"cobri|abordei|tratei|mencionei|descrevi)\b|(?:todos )?os aspectos foram (?:tratados|"
     r"abordados|cobertos|explicados)|(?:questa|la mia) risposta (?:copre|tratta|spiega|"
     r"include|descrive|menziona)|ho (?:spiegato|trattato|coperto|descritto|menzionato|"
     r"discusso|illustrato))\b"),
    ("coverage-claim", Kind.GRADING,
     r"\b(?:(?:cette|ma) réponse (?:couvre|traite|aborde|explique|mentionne|inclut|décrit)|"
     r"j'ai (?:expliqué|couvert|traité|abordé|mentionné|décrit)|(?:diese|meine) antwort "
     r"(?:behandelt|deckt|erklärt|beschreibt|erwähnt|umfasst|enthält)|ich habe [\w\s,-]{0,60}?"
     r"(?:erklärt|behandelt|beschrieben|erwähnt|abgedeckt)|(?:deze|mijn) antwoord "
     r"(?:behandelt|dekt|beschrijft|noemt))\b"),
    ("coverage-claim", Kind.GRADING,
     r"(?:(?:в этом|в моём|в моем|в данном) ответе[\w\s,-]{0,20}?(?:рассмотрен|описан|"
     r"объясн|упомянут|затронут|освещен|освещён)|(?:этот|мой) ответ (?:охватывает|описывает|"
     r"рассматривает|объясняет|затрагивает)|\b(?:я|мы) (?:рассмотрел|объяснил|описал|"
     r"упомянул|осветил))"),
    ("coverage-claim", Kind.GRADING,
     r"(?:(?:以上|上述|本|这个|這個|我的|该|該)(?:回答|答案|解答)[^。\n]{0,6}(?:涵盖|涵蓋|覆盖|覆蓋|"
     r"包括|包含|解释|解釋|讨论|討論|提到|说明|說明)|已经?(?:涵盖|涵蓋|解释|解釋|讨论|討論|说明|說明)了?"
     r"|(?:この|私の|上記の)(?:回答|答え|解答)(?:では|は|で)[^。\n]{0,160}(?:説明しました|扱いました|"
     r"触れました|網羅|カバー)|(?:이|제|위의?|본) (?:답변|대답|답)(?:은|에서는?|이|에서)[^.\n]{0,160}"
     r"(?:다루었|다뤘|설명했|설명하였|포함하|언급했|다룹니다))"),
    ("coverage-claim", Kind.GRADING,
     r"(?:(?:इस|मेरे|यह) (?:उत्तर|जवाब)[^।\n]{0,160}(?:शामिल|समझाया|बताया|वर्णन|चर्चा)|"
     r"(?:تناولت|شرحت|غطت|ناقشت|تشرح|تتناول|تغطي)\s+(?:هذه\s+)?(?:الإجابة|إجابتي)|"
     r"(?:هذه الإجابة|إجابتي)\s+(?:تتناول|تشرح|تغطي|تناقش))"),
    ("grading", Kind.GRADING,
     r"\b(?:rubric|grader|graders|grading|evaluator|examiner|assessor|marking scheme|"
     r"mark scheme|answer key|scoring guide)\b"),
    # fake verdict JSON
    ("fake-json", Kind.STRUCTURAL,
     r"[\"']\s*(?:status|score|verdict|key_points|factual_errors|feedback|grade|evidence|"
     r"hint)\s*[\"']\s*:"),
    ("fake-json", Kind.STRUCTURAL, r"\b(?:status|verdict|grade|score)\s*[:=]\s*[\"']?(?:covered|"
     r"pass|passed|100|a\+|full)\b"),
    # forged delimiters
    ("delimiter", Kind.STRUCTURAL,
     r"<<<|\w>>>|>>>\s*(?:$|\n)|\bend[\s_-]*(?:of[\s_-]*)?answer\b|\banswer-[0-9a-fx]{2,}|"
     r"\bnonce\b|[\[=#*<-]{2,}\s*(?:begin|end|start)[\s_-]*(?:of[\s_-]*)?(?:system|"
     r"instructions?|prompt|user|answer|input|candidate)"),
    # French
    ("override", Kind.DIRECTIVE,
     r"\b(?:ignore[zr]?|oublie[zr]?|ne tiens pas compte|ne tenez pas compte|écarte[zr]?)\b"
     r"[\w\s,'’-]{0,40}?\b(?:instructions?|consignes?|règles|directives)\b"),
    ("roleplay", Kind.DIRECTIVE, r"\b(?:tu es|vous êtes) (?:maintenant|désormais)\b"),
    ("system", Kind.DIRECTIVE, r"\b(?:invite|message|prompt) (?:du )?système\s*[:：]"),
    ("score", Kind.DIRECTIVE,
     r"\b(?:donne[zr]?|attribue[zr]?|mets|mettez)\b[\w\s'’-]{0,25}\b(?:100|20\s*/\s*20|"
     r"note maximale|tous les points)\b"),
    ("grading", Kind.GRADING,
     r"\b(?:barème|correcteur|correctrice|évaluateur|évaluatrice|examinateur|note maximale|"
     r"note parfaite|points clés|critères d'évaluation)\b"),
    # German
    ("override", Kind.DIRECTIVE,
     r"\b(?:ignoriere|ignorieren sie|ignoriert|vergiss|vergessen sie|missachte|missachten sie)"
     r"\b[\w\s,-]{0,40}?\b(?:anweisungen|anweisung|regeln|vorgaben|instruktionen|befehle)\b"),
    ("roleplay", Kind.DIRECTIVE, r"\b(?:du bist|sie sind) (?:jetzt|nun|ab sofort)\b"),
    ("system", Kind.DIRECTIVE, r"\b(?:systemaufforderung|systemprompt|systemnachricht)\s*[:：]"),
    ("grading", Kind.GRADING,
     r"\b(?:volle punktzahl|höchstpunktzahl|bestnote|punktzahl|100 punkte|mit 100 bewerten|"
     r"bewerter|bewerterin|prüfer|prüferin|korrektor|bewertungsschema|bewertungskriterien|"
     r"kernpunkte|alle punkte)\b"),
    # Spanish / Portuguese / Italian
    ("override", Kind.DIRECTIVE,
     r"\b(?:ignora|ignore|ignorar|ignorad|olvida|olvide|esquece|esqueça|esqueçam|dimentica|"
     r"dimenticate|ignorate)\b[\w\s,'’-]{0,40}?\b(?:instrucciones|instruções|istruzioni|"
     r"reglas|regras|regole|indicaciones)\b"),
    ("roleplay", Kind.DIRECTIVE,
     r"\b(?:ahora eres|ahora usted es|agora você é|agora tu és|ora sei|adesso sei)\b"),
    ("system", Kind.DIRECTIVE,
     r"\b(?:mensaje del sistema|prompt del sistema|mensagem do sistema|prompt di sistema)\s*[:：]"),
    ("grading", Kind.GRADING,
     r"\b(?:puntuación máxima|puntuación perfecta|nota máxima|calificación máxima|"
     r"pontuação máxima|punteggio massimo|voto massimo|calificador|calificadora|evaluador|"
     r"evaluadora|rúbrica|puntos clave|avaliador|avaliadora|corretor|pontos-chave|"
     r"pontos chave|valutatore|valutatrice|correttore|punti chiave|puntuación|pontuação|"
     r"punteggio|califica[\w\s]{0,20}100)\b"),
    # Dutch / Polish / Turkish / Indonesian / Vietnamese
    ("override", Kind.DIRECTIVE,
     r"\b(?:negeer|vergeet|zignoruj|zapomnij|görmezden gel|unut|abaikan|lupakan|bỏ qua|quên)"
     r"\b[\w\s,'’-]{0,40}?\b(?:instructies|regels|instrukcje|polecenia|zasady|talimatları|"
     r"talimatlar|kuralları|instruksi|aturan|hướng dẫn|chỉ dẫn|quy tắc)\b"),
    ("override", Kind.DIRECTIVE,
     r"\b(?:talimatları|talimatlar|talimatı|kuralları)\b[\w\s]{0,30}?\b(?:görmezden gel|unut|"
     r"yok say|dikkate alma)"),
    ("grading", Kind.GRADING,
     r"\b(?:beoordelaar|volledige punten|kernpunten|oceniający|oceniająca|pełna liczba punktów|"
     r"maksymalna liczba punktów|kluczowe punkty|değerlendirici|tam puan|en yüksek puan|"
     r"penilai|nilai penuh|nilai sempurna|người chấm|điểm tối đa|chấm điểm)\b"),
    # Russian / Ukrainian
    ("override", Kind.DIRECTIVE,
     r"(?:игнорируй|игнорируйте|забудь|забудьте|не обращай внимания|ігноруй|забудь)"
     r"[\w\s,-]{0,40}?(?:инструкци|указани|правил|інструкці|вказівк)"),
    ("roleplay", Kind.DIRECTIVE, r"(?:теперь ты|ты теперь|теперь вы|представь, что ты|тепер ти)"),
    ("system", Kind.DIRECTIVE, r"системн\w* (?:промпт|подсказк|сообщени|инструкци)\w*\s*[:：]"),
    ("grading", Kind.GRADING,
     r"(?:максимальн\w* балл|поставь\w* 100|100 балл|высш\w* (?:оценк|балл)|оценщик|"
     r"проверяющ\w*|критери\w* оценк|ключев\w* пункт|оцінювач|максимальн\w* бал)"),
    # Arabic / Hindi
    ("override", Kind.DIRECTIVE, r"(?:تجاهل|انس)[^.\n]{0,30}(?:التعليمات|الأوامر|القواعد)"),
    ("override", Kind.DIRECTIVE, r"(?:निर्देशों|निर्देश)[^।\n]{0,30}(?:अनदेखा|भूल)"),
    ("grading", Kind.GRADING,
     r"(?:الدرجة الكاملة|العلامة الكاملة|المصحح|المقيّم|पूरे अंक|पूर्ण अंक|परीक्षक|मूल्यांकनकर्ता)"),
    # Chinese / Japanese / Korean
    ("override", Kind.DIRECTIVE,
     r"(?:忽略|无视|無視|忘记|忘記|不要理会|不要理會)[^。\n]{0,12}(?:指令|指示|说明|說明|规则|規則|提示)"),
    ("override", Kind.DIRECTIVE, r"(?:以前|前)の?指示を?無視|指示を無視|이전\s*지시|지시를?\s*무시"),
    ("roleplay", Kind.DIRECTIVE, r"(?:你现在是|你現在是|从现在开始你|あなたは今|今からあなたは|너는 이제)"),
    ("system", Kind.DIRECTIVE, r"(?:系统提示|系統提示|系统消息|システムプロンプト|시스템 프롬프트)\s*[:：]"),
    ("grading", Kind.GRADING,
     r"(?:满分|滿分|打100分|给[^。\n]{0,10}100分|満点|만점|评分|評分|打分|评卷|阅卷|得分点|"
     r"采点|採点|채점|评分标准|要点都|所有要点|全部要点|평가자)"),
)  # fmt: skip
_COMPILED = tuple(
    (label, kind, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for label, kind, pattern in _PATTERNS
)

#: Cues that the phrase after them is quoted or reported, not addressed to anyone.
_MENTION_CUE = re.compile(
    r"\b(?:such as|like|e\.?g\.?|i\.?e\.?|for example|for instance|known as|called|phrases?|"
    r"strings?|payloads?|says?|saying|said|writes?|writing|wrote|written|types?|typed|"
    r"tells? \w+(?: \w+)? to|told \w+(?: \w+)? to|asks? \w+(?: \w+)? to|instructs? \w+(?: \w+)? to|"
    r"contains?|containing|embed(?:s|ded)?|inject(?:s|ed|ing)?|hidden|smuggled|attackers?|"
    r"adversar\w*|malicious|jailbreaks?|classic|example)\b"
)
_QUOTE_CHARS = '"“”«»`'

# --- encoded blobs ----------------------------------------------------------------------------

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{2}[\s:]?){12,}(?![0-9a-fA-F])")
_PERCENT = re.compile(r"(?:%[0-9a-fA-F]{2}){6,}")
_ESCAPES = re.compile(r"(?:\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2})){6,}")
_ROT13_CUE = re.compile(r"\brot[\s-]?13\b|\bcaesar\b", re.IGNORECASE)


def _printable(text: str) -> bool:
    if len(text) < 6:
        return False
    good = sum(1 for ch in text if ch.isprintable() or ch in "\n\t")
    letters = sum(1 for ch in text if ch.isalpha())
    return good >= 0.95 * len(text) and letters >= 0.5 * len(text.replace(" ", ""))


def _decode_blob(blob: str) -> str | None:
    """Readable text hidden in a base64, hex, percent or escape blob; ``None`` if none."""
    candidates: list[bytes] = []
    compact = re.sub(r"[\s:]", "", blob)
    if _HEX.fullmatch(blob.strip()) and len(compact) % 2 == 0:
        with contextlib.suppress(ValueError):
            candidates.append(bytes.fromhex(compact))
    if blob.startswith("%"):
        candidates.append(urllib.parse.unquote_to_bytes(blob))
    if blob.startswith("\\"):
        with contextlib.suppress(UnicodeDecodeError, ValueError):
            candidates.append(codecs.decode(blob, "unicode_escape").encode("utf-8"))
    is_word = blob.isalpha() and (blob.islower() or blob.isupper() or blob.istitle())
    if not is_word and not candidates:
        padded = blob + "=" * (-len(blob) % 4)
        for decoder in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                candidates.append(decoder(padded))
                break
            except (binascii.Error, ValueError):
                continue
    for raw in candidates:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _printable(text):
            return text
    return None


def _blobs(text: str) -> list[tuple[int, int, str | None]]:
    """Encoded-looking stretches of ``text``: (start, end, decoded text or None)."""
    found: list[tuple[int, int, str | None]] = []
    for pattern in (_HEX, _PERCENT, _ESCAPES, _BASE64):
        for match in pattern.finditer(text):
            if any(start <= match.start() < end for start, end, _ in found):
                continue
            blob = match.group()
            if pattern is _BASE64:
                # a long identifier or word is not a blob: it needs digits or mixed case
                has_digit = any(ch.isdigit() for ch in blob)
                mixed = any(ch.isupper() for ch in blob) and any(ch.islower() for ch in blob)
                if not (has_digit or mixed) or "_" in blob.strip("_"):
                    continue
            decoded = _decode_blob(blob)
            if pattern is _BASE64 and decoded is None:
                digits = sum(ch.isdigit() for ch in blob)
                if len(blob) < 32 or digits < 2 or not mixed:
                    continue
            found.append((match.start(), match.end(), decoded))
    return found


# --- item vocabulary --------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]{3,}")
_VOCAB_STOP = frozenset(
    "the and for with that this these those from into your you are was were have has had not "
    "but all any its their them they then than can could should would will shall must may "
    "might also only just each every both some such there here what when where which while "
    "who whom how why does did done been being about above below after before over under "
    "out off again once very more most other same own too".split()
)


def _word_key(word: str) -> str:
    word = word.casefold()
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_keys(text: str) -> set[str]:
    """Normalised content words of ``text`` (three letters or more, not function words)."""
    folded = fold(text, ascii_letters=True).text
    return {_word_key(w) for w in _WORD.findall(folded) if w not in _VOCAB_STOP}


@dataclass(frozen=True)
class ItemVocabulary:
    """The words the question, its reference and its rubric use: an answer may use them too."""

    keys: frozenset[str] = frozenset()
    folded_text: str = ""

    @classmethod
    def of(cls, *texts: str) -> ItemVocabulary:
        """The vocabulary of an item's texts; built once per item (it is immutable)."""
        return _vocabulary(texts)

    def owns(self, text: str) -> bool:
        """Whether every content word of ``text`` is one of the item's words."""
        keys = content_keys(text)
        return bool(keys) and keys <= self.keys

    def topical_share(self, text: str) -> float:
        keys = content_keys(text)
        return len(keys & self.keys) / len(keys) if keys else 0.0


NO_VOCABULARY = ItemVocabulary()

#: Items whose vocabulary is kept (a bank holds a few hundred questions).
VOCABULARY_CACHE_SIZE = 1024


@lru_cache(maxsize=VOCABULARY_CACHE_SIZE)
def _vocabulary(texts: tuple[str, ...]) -> ItemVocabulary:
    joined = "\n".join(texts)
    return ItemVocabulary(frozenset(content_keys(joined)), fold(joined, ascii_letters=True).text)


# --- scanning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One pattern match, located in the source text."""

    label: str
    kind: Kind
    start: int
    end: int
    exempt: bool
    mention: bool


_REVERSED_HINT = re.compile(
    r"\b(?:eht|dna|erongi|snoitcurtsni|skram|redarg|stniop|derevoc|cirbur)\b"
)


def _variants(text: str) -> list[tuple[Folded, bool]]:
    """The folded readings of ``text`` that patterns run on, and whether each is reversed."""
    plain = fold(text)
    disguised = fold(text, ascii_letters=True, leetspeak=True, join_spread=True)
    variants = [(disguised, False)]
    if plain.text != disguised.text:
        variants.append((plain, False))
    if _REVERSED_HINT.search(disguised.text):  # reversed text ("snoitcurtsni suoiverp erongi")
        backwards = Folded(
            disguised.text[::-1], tuple(reversed(disguised.origin)), disguised.source_length
        )
        variants.append((backwards, True))
    return variants


def _source_span(variant: Folded, start: int, end: int) -> tuple[int, int]:
    first, last = variant.origin[start], variant.origin[end - 1]
    return min(first, last), max(first, last) + 1


def _is_mention(text: str, start: int, end: int) -> bool:
    """Quoted, or reported after a cue such as "e.g." within the same sentence."""
    for begin, finish in sentence_bounds(text):
        if begin <= start < finish:
            before = text[begin:start]
            if sum(before.count(q) for q in _QUOTE_CHARS) % 2 == 1:
                return True
            if re.search(r"(?:^|\s)'[^']*$", before) and "'" in text[end:finish]:
                return True
            window = fold(before[-90:]).text
            return bool(_MENTION_CUE.search(window))
    return False


def _exempt(
    label: str, kind: Kind, matched: str, mention: bool, vocabulary: ItemVocabulary
) -> bool:
    if kind is Kind.STRUCTURAL:
        squeezed = fold(matched, ascii_letters=True).text.strip()
        return bool(squeezed) and squeezed in vocabulary.folded_text
    if vocabulary.owns(matched):
        return True
    return mention and vocabulary.topical_share(matched) >= 0.5


_TRIM = frozenset(" \t\r\n.!?;:,")
#: Patterns run over windows of the text (overlapping by more than any match is long), so no
#: single regular-expression call holds the interpreter lock for long: the event loop's thread
#: gets it back quickly while screening runs in a worker thread.
WINDOW_CHARS = 400
WINDOW_OVERLAP = 200


def _windowed_matches(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    seen: set[tuple[int, int]] = set()
    matches = []
    start = 0
    while True:
        end = min(len(text), start + WINDOW_CHARS + WINDOW_OVERLAP)
        for match in pattern.finditer(text, start, end):
            span = match.span()
            if span[1] > span[0] and span not in seen:
                seen.add(span)
                matches.append(match)
        if end >= len(text):
            return matches
        start += WINDOW_CHARS


def scan(text: str, vocabulary: ItemVocabulary = NO_VOCABULARY) -> list[Finding]:
    """Every pattern match in ``text`` (any folded reading, decoded blobs included)."""
    findings: dict[tuple[str, int, int], Finding] = {}

    def add(label: str, kind: Kind, start: int, end: int, matched: str) -> None:
        while start < end - 1 and text[start] in _TRIM:
            start += 1
        while end > start + 1 and text[end - 1] in _TRIM:
            end -= 1
        mention = _is_mention(text, start, end)
        exempt = _exempt(label, kind, matched, mention, vocabulary)
        findings.setdefault((label, start, end), Finding(label, kind, start, end, exempt, mention))

    for variant, backwards in _variants(text):
        for label, kind, pattern in _COMPILED:
            if backwards and kind is Kind.STRUCTURAL:
                continue
            for match in _windowed_matches(pattern, variant.text):
                start, end = _source_span(variant, match.start(), match.end())
                add(label, kind, start, end, match.group())
    for start, end, decoded in _blobs(text):
        if decoded and any(not found.exempt for found in scan_plain(decoded, vocabulary)):
            findings.setdefault(
                ("encoded", start, end),
                Finding("encoded", Kind.STRUCTURAL, start, end, False, False),
            )
    if _ROT13_CUE.search(text):
        rotated = codecs.encode(text, "rot13")
        for finding in scan_plain(rotated, vocabulary):
            if not finding.exempt:
                findings.setdefault(
                    ("encoded", finding.start, finding.end),
                    Finding("encoded", Kind.STRUCTURAL, finding.start, finding.end, False, False),
                )
    return sorted(findings.values(), key=lambda f: (f.start, f.end, f.label))


def scan_plain(text: str, vocabulary: ItemVocabulary) -> list[Finding]:
    """Like :func:`scan` on one plain reading only (used for decoded text)."""
    folded = fold(text, ascii_letters=True)
    out = []
    for label, kind, pattern in _COMPILED:
        for match in pattern.finditer(folded.text):
            start, end = folded.source_span(match.start(), match.end())
            mention = _is_mention(text, start, end)
            exempt = _exempt(label, kind, match.group(), mention, vocabulary)
            out.append(Finding(label, kind, start, end, exempt, mention))
    return out


# --- zones that are never evidence ------------------------------------------------------------

_CODE_FENCE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[ \t]*$|\Z)")
_MARKUP_COMMENT = re.compile(r"(?s)<!--.*?(?:-->|\Z)|/\*.*?(?:\*/|\Z)|\[//\]:\s*#\s*\(.*?\)")
_FAKE_DELIMITER = re.compile(
    r"<<<[^\n]*?(?:>>>|$)|[<＜«‹〈《⟨❮﹤]{2,}[^\n]*?[>＞»›〉》⟩❯﹥]{2,}|<\|[^|\n]{0,40}\|>|"
    r"\[/?INST\]|<</?SYS>>|^[ \t]*(?:[=#*~-]{3,})[^\n]*(?:system|instruction|answer|prompt|"
    r"grader|begin|end)[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)


def never_evidence_zones(text: str) -> list[tuple[int, int]]:
    """Code blocks, markup comments, encoded blobs and fake delimiters: spans of ``text``."""
    zones = [m.span() for m in _CODE_FENCE.finditer(text)]
    zones += [m.span() for m in _MARKUP_COMMENT.finditer(text)]
    zones += [m.span() for m in _FAKE_DELIMITER.finditer(text)]
    zones += [(start, end) for start, end, _ in _blobs(text)]
    return sorted(zones)


def hidden_spans(text: str) -> list[tuple[int, int]]:
    """Markup comments: invisible when rendered, so never part of what the member wrote for a
    reader. They are cut out of the graded text whatever they say."""
    return [m.span() for m in _MARKUP_COMMENT.finditer(text) if m.group().startswith("<!--")]


# --- screening --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Screening:
    """An answer after screening: the graded text and what was taken out of it."""

    original: str
    graded_text: str
    #: Source spans (of ``original``) cut out because they address the grader.
    removed: tuple[tuple[int, int], ...] = ()
    labels: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = field(default=(), repr=False)

    @property
    def flagged(self) -> bool:
        return bool(self.labels)


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _cut(text: str, spans: Sequence[tuple[int, int]]) -> str:
    pieces = []
    position = 0
    for start, end in spans:
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    joined = "".join(pieces)
    joined = re.sub(r"[ \t]{2,}", " ", joined)
    joined = re.sub(r"[ \t]+\n", "\n", joined)
    joined = re.sub(r"\n{3,}", "\n\n", joined)
    return joined.strip()


def _drop_invisible(text: str) -> str:
    return "".join(
        ch for ch in text if not INVISIBLE.match(ch) and not (0xE0000 <= ord(ch) <= 0xE007F)
    )


def screen_answer(answer: str, vocabulary: ItemVocabulary = NO_VOCABULARY) -> Screening:
    """Find the grader-addressed sentences of ``answer`` and cut them out (see module doc).

    Invisible characters are dropped from the graded text as well: they carry nothing a reader
    sees. Screening is idempotent: screening the graded text again removes nothing.
    """
    text = unicodedata.normalize("NFC", answer)
    findings = scan(text, vocabulary)
    active = [finding for finding in findings if not finding.exempt]
    segments = sentence_bounds(text)
    removed: list[tuple[int, int]] = []
    for finding in active:
        touched = [
            (begin, finish)
            for begin, finish in segments
            if begin < max(finding.end, finding.start + 1) and finish > finding.start
        ]
        removed.extend(touched or [(finding.start, finding.end)])
    hidden = hidden_spans(text)
    removed.extend(hidden)
    merged = _merge(removed)
    graded = _drop_invisible(_cut(text, merged)).strip()
    labels = {finding.label for finding in active}
    if _TAGS.search(text):
        labels.add("hidden")
    if hidden and not labels:
        labels.add("hidden")
    return Screening(text, graded, tuple(merged), tuple(sorted(labels)), tuple(findings))


_TAGS = re.compile("[\U000e0020-\U000e007e]{4,}")


def detect_injection(answer: str, vocabulary: ItemVocabulary = NO_VOCABULARY) -> list[str]:
    """Labels of the grader-addressed findings in ``answer`` (empty when none), sorted."""
    labels = {f.label for f in scan(answer, vocabulary) if not f.exempt}
    if _TAGS.search(answer):
        labels.add("hidden")
    return sorted(labels)


def disqualifies_evidence(text: str, vocabulary: ItemVocabulary = NO_VOCABULARY) -> str:
    """Why ``text`` can never be evidence ("" when it can): grading talk the item does not own,
    a structural trick, or an instruction used rather than mentioned."""
    for finding in scan(text, vocabulary):
        if not finding.exempt:
            return finding.label
        if finding.kind is Kind.DIRECTIVE and not finding.mention:
            return finding.label
    return ""
