"""The topics a don't can name, and the words and patterns that show a reply touches each one.

A `Topic` has a `trigger` (how an instruction names it: "Don't discuss *pricing*") and
`detectors` (how a reply touches it: "$49", "it costs", "20% off"). Every pattern is compiled once,
here, at import, so checking a sentence is a handful of regex searches.

Alongside the topics live the cues that change what a match means: a refusal ("I can't discuss
pricing") excuses a clause, and a request ("What's your card number?") is what a "Don't ask for …"
rule forbids, as opposed to merely mentioning the thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Every pattern is written in lower case and searched in lower-cased text: Python's `re` runs
# these alternations about 2.5x faster without IGNORECASE.


def _any_word(*alternatives: str) -> re.Pattern[str]:
    """One pattern matching any alternative as whole words (in lower-cased text)."""
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


@dataclass(frozen=True)
class Detector:
    """A pattern that shows a reply touches a topic, and how to say so."""

    pattern: re.Pattern[str]
    reason: str
    # When the rule names an object ("Don't promise a specific *doctor*"), only a breach in a
    # clause that names it too: a promise about something else is not what that rule forbids.
    scoped_to_object: bool = False
    # Only meaningful with an object: "you'll get …" assures nothing unless it is about the
    # thing the rule protects, so a rule without an object skips this detector.
    object_only: bool = False
    # Questions about the caller's own situation ("Are you taking any ibuprofen?") are intake,
    # not advice, so some detectors ignore question clauses.
    skip_questions: bool = False


@dataclass(frozen=True)
class Topic:
    """Something a don't can forbid: how an instruction names it and how a reply touches it."""

    name: str
    trigger: re.Pattern[str]
    detectors: tuple[Detector, ...]
    # The rule's remaining content words name what the topic is about ("a specific doctor").
    takes_object: bool = False


_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|million|a\s+few|a\s+couple\s+of)"
)
# "pounds" and "quid" are left out on purpose: a clinic caller's weight is not a price.
_CURRENCY_WORD = r"(?:dollars?|bucks|euros?|cents|usd|eur|gbp)"
_PERIOD = r"(?:month|mo|year|yr|week|seat|user|licen[cs]e|visit|session|hour|person|head)"

PRICING = Topic(
    name="pricing",
    trigger=_any_word(
        r"pric\w*|cost\w*|fees?|discount\w*|money|rates?|charges?|promotions?|coupons?"
    ),
    detectors=(
        Detector(
            re.compile(
                r"[$€£]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|million|thousand)\b)?"
                rf"|\b\d[\d,]*(?:\.\d+)?\s?k?\s+{_CURRENCY_WORD}\b"
                rf"|\b{_NUMBER_WORD}(?:[\s-]+(?:{_NUMBER_WORD}|and))*\s+{_CURRENCY_WORD}\b"
                rf"|\b\d[\d,]*(?:\.\d+)?\s*(?:/|\ba\b|\bper\b)\s*{_PERIOD}\b",
            ),
            "quotes a price",
        ),
        Detector(
            re.compile(
                r"\b(?:\d+(?:\.\d+)?\s?(?:%|percent|per\s+cent)|half)\s+off\b"
                r"|\b\d+(?:\.\d+)?\s?(?:%|percent|per\s+cent)\s+(?:discount|saving|cheaper|less)"
                r"|\bdiscount\w*|\bcoupons?\b|\bpromo(?:tion(?:al)?)?\s+(?:codes?|prices?|rates?)"
                r"|\b(?:special|introductory|limited[- ]time)\s+(?:offers?|deals?|prices?|rates?)",
            ),
            "offers a discount",
        ),
        Detector(
            re.compile(
                # `(?<!in )` keeps "who is in charge of purchasing" (a qualifying question) out.
                r"\b(?:pric(?:e|es|ed|ing|ey|y)|costs?|costing|costly|fees?|(?<!in )charges?"
                r"|charged|charging|expensive|inexpensive|cheap\w*|affordable|"
                r"(?:our|the|hourly|monthly|annual|yearly|flat|group|special)\s+rates?)\b"
                r"|\bhow\s+much\s+(?:it|that|this)\s+(?:is|costs?|would\s+be|will\s+be)\b"
                r"|\bhow\s+much\s+(?:is|does|would|will)\s+(?:it|that|this)\b",
            ),
            "talks about cost",
        ),
        Detector(_any_word(_CURRENCY_WORD), "talks about money"),
    ),
)

_DRUG = (
    r"(?:ibuprofen|acetaminophen|paracetamol|tylenol|advil|motrin|aleve|naproxen|aspirin|"
    r"antibiotics?|amoxicillin|penicillin|antihistamines?|benadryl|claritin|zyrtec|"
    r"cough\s+syrup|decongestants?|steroids?|prednisone|melatonin|codeine|opioids?|"
    r"painkillers?|pain\s+relievers?|sleeping\s+pills?)"
)
_MED_THING = rf"(?:{_DRUG}|medications?|medicines?|meds|pills?|tablets?|capsules?|doses?|dosage)"
_CONDITION = (
    r"(?:infections?|flu|virus|viral|cold|migraines?|sprain(?:ed)?|fractures?|broken|allerg\w+|"
    r"strep|pneumonia|bronchitis|concussion|anxiety|depression|diabetes|hypertension|asthma|"
    r"covid|uti|inflammation|inflamed|tendonitis|arthritis|sinusitis|rash|fever|ulcer|"
    r"food\s+poisoning|dehydrat\w+|pulled\s+muscle|nothing\s+serious|nothing\s+to\s+worry\s+about)"
)
_DIRECTIVE = (
    r"(?:you\s+should|you\s+could|you\s+can|you\s+might\s+want\s+to|you'll\s+want\s+to|"
    r"you\s+need\s+to|you\s+ought\s+to|i(?:'d|\s+would)?\s+(?:recommend|suggest|advise)|"
    r"it(?:'s|\s+is|'d\s+be|\s+would\s+be)\s+(?:best|good|fine|ok(?:ay)?|safe)\s+to|"
    r"make\s+sure\s+(?:you|to)|go\s+ahead\s+and|just|try)"
)

MEDICAL_ADVICE = Topic(
    name="medical advice",
    trigger=_any_word(
        r"medical\w*|medicines?|medications?|diagnos\w*|dos(?:e|es|age)|treatments?|prescri\w*|"
        r"clinical|health\s+advice|symptoms?"
    ),
    detectors=(
        Detector(
            re.compile(
                r"\b\d+(?:\.\d+)?\s?(?:mg|milligrams?|mcg|micrograms?|ml|millilit(?:er|re)s?|cc|"
                r"units|tablets?|pills?|capsules?|doses?|teaspoons?|tablespoons?)\b",
            ),
            "gives a dosage",
        ),
        Detector(
            re.compile(
                rf"\b{_DIRECTIVE}\s+(?:\w+\s+){{0,2}}?(?:take|taking|use|using|try|trying|start|"
                rf"starting|stop|stopping|switch\s+to|increase|double|skip|skipping|"
                rf"cut\s+back\s+on)"
                rf"\s+(?:\w+\s+){{0,3}}?{_MED_THING}\b"
                rf"|^(?:take|try|use|stop\s+taking|increase|double)\s+(?:\w+\s+){{0,3}}?"
                rf"{_MED_THING}\b"
                rf"|\b{_DRUG}\s+(?:should|will|would|usually|often|might|can|could)\s+"
                rf"(?:help|fix|clear|ease|relieve|work|sort)",
            ),
            "recommends medication",
        ),
        Detector(_any_word(_DRUG), "names a medication", skip_questions=True),
        Detector(
            re.compile(
                rf"\b(?:sounds|seems|looks)\s+like\s+(?:you\s+(?:have|'ve\s+got)\s+)?(?:a|an|some|the)?"
                rf"\s*{_CONDITION}\b"
                rf"|\byou(?:'ve|\s+have)?\s+(?:probably|likely|might|may|could|must)\s+"
                rf"(?:have|be|'ve)\s+(?:got\s+)?(?:a|an|some|the)?\s*{_CONDITION}\b"
                rf"|\b(?:it|that|this)(?:'s|\s+is|\s+could\s+be|\s+might\s+be|\s+may\s+be)\s+"
                rf"(?:probably|likely|just|only|definitely)\s+(?:a|an|some|the)?\s*{_CONDITION}\b"
                rf"|\b(?:should|will)\s+(?:clear\s+up|go\s+away|heal)\s+"
                rf"(?:on\s+its\s+own|by\s+itself)",
            ),
            "suggests a diagnosis",
        ),
        Detector(
            re.compile(
                rf"\b{_DIRECTIVE}\s+(?:\w+\s+){{0,2}}?(?:ice|icing|elevat\w+|hydrat\w+|gargl\w+|"
                rf"rest(?:ing)?\s+(?:it|your|the|up)|"
                rf"drink(?:ing)?\s+(?:plenty\s+of\s+|lots\s+of\s+)?"
                rf"(?:water|fluids)|appl(?:y|ying)\s+(?:ice|heat|a\s+cream|ointment|a\s+compress))",
            ),
            "recommends a treatment",
        ),
    ),
)

PROMISES = Topic(
    name="promises",
    trigger=_any_word(r"promis\w*", r"guarant\w*", r"assur\w*"),
    detectors=(
        Detector(
            re.compile(
                r"\b(?:promis(?:e|es|ed)|guarantee(?:s|d)?|assure(?:s|d)?|you\s+have\s+my\s+word"
                r"|for\s+sure|100\s?(?:%|percent))\b"
                r"|\b(?:will|'ll|going\s+to)\s+(?:\w+\s+)?(?:definitely|certainly|absolutely)\b"
                r"|\b(?:definitely|certainly|absolutely)\s+(?:be|see|get|have|will)\b",
            ),
            "makes a promise",
            scoped_to_object=True,
        ),
        Detector(
            re.compile(
                r"\byou(?:'ll|\s+will|'re\s+going\s+to|\s+are\s+going\s+to)\s+"
                r"(?:\w+\s+)?(?:see|be\s+seen\s+by|be\s+seeing|get|have|be\s+with|meet|be\s+booked"
                r"\s+with)\b"
                r"|\bwill\s+(?:\w+\s+)?(?:see|be\s+seeing|treat|take\s+care\s+of|look\s+after)"
                r"\s+you\b",
            ),
            "assures it as settled",
            scoped_to_object=True,
            object_only=True,
        ),
    ),
    takes_object=True,
)

INSURANCE = Topic(
    name="insurance details",
    trigger=_any_word(r"insur\w*", r"coverage", r"medicare", r"medicaid", r"copays?"),
    detectors=(
        Detector(
            _any_word(
                r"insur\w*|policy\s+(?:number|holder|id)|member\s+(?:id|number)|group\s+number|"
                r"copays?|co-pays?|medicare|medicaid|coverage|health\s+plan|"
                r"(?:insurance\s+)?carrier"
            ),
            "insurance details",
        ),
    ),
)

PAYMENT = Topic(
    name="payment details",
    trigger=_any_word(
        r"pay\w*", r"card\w*", r"billing", r"bank\w*", r"credit", r"debit", r"financial"
    ),
    detectors=(
        Detector(
            _any_word(
                r"(?:credit|debit|bank|payment)\s+(?:cards?|accounts?|details|information|info"
                r"|methods?)",
                r"card\s+(?:number|details|info\w*)",
                r"cvv|cvc|security\s+code|expir\w+\s+date|"
                r"billing\s+(?:address|details|information|zip)|"
                r"routing\s+number|account\s+number|visa|mastercard|amex|american\s+express|pay|"
                r"payment|paying",
            ),
            "payment details",
        ),
    ),
)

PERSONAL_DATA = Topic(
    name="personal data",
    trigger=_any_word(
        r"ssn|social\s+security|passwords?|passcodes?|pins?|"
        r"personal\s+(?:data|information|details)|sensitive|credentials"
    ),
    detectors=(
        Detector(
            _any_word(
                r"ssn|social\s+security(?:\s+number)?|passwords?|passcodes?|"
                r"pin(?:\s+number|\s+code)?|mother'?s\s+maiden\s+name|security\s+questions?|"
                r"one[- ]time\s+(?:code|password)|verification\s+code|login|credentials"
            ),
            "personal data",
        ),
    ),
)

PRESSURE = Topic(
    name="pressure to commit",
    trigger=_any_word(
        r"pressur\w*|push\w*|rush\w*|hurry\w*|hard[- ]sell\w*|nag\w*|badger\w*|hassl\w*"
    ),
    detectors=(
        Detector(
            re.compile(
                r"\b(?:sign(?:ed|ing)?(?:\s+up)?|commit(?:ting|ment)?|decide|decision|buy|"
                r"purchase|close|lock\s+(?:it|this|that)\s+in|move\s+forward|get\s+started|"
                r"place\s+(?:the|an|your)\s+order)\b(?:\s+\w+){0,4}?\s+(?:today|now|tonight|"
                r"on\s+this\s+call|before\s+we\s+hang\s+up|immediately|right\s+away|"
                r"by\s+end\s+of\s+(?:the\s+)?day)\b"
                r"|\b(?:can|shall|should|could)\s+(?:we|i)\s+(?:just\s+)?"
                r"(?:get\s+you|sign\s+you)\s+"
                r"(?:signed\s+up|started|on\s*board|locked\s+in|up)\b"
                # Booking now, urged rather than offered: "you should book right now", "let's
                # get you booked in today". "I've booked you in for today" states a booking, and
                # "shall I book you in for today?" offers one: neither is matched.
                r"|\b(?:you(?:\s+(?:should|must|need\s+to|have\s+to|ought\s+to|had\s+better)|"
                r"'d\s+better)|let'?s|let\s+us|(?:can|could|shall)\s+we\s+(?:just\s+)?get\s+you)"
                r"\s+(?:\w+\s+){0,2}?(?:book(?:ed)?|reserved?|secured?|lock(?:ed)?\s+in)\b"
                r"(?:\s+\w+){0,4}?\s+(?:now|today|tonight|right\s+away|immediately|"
                r"on\s+this\s+call|before\s+we\s+hang\s+up)\b",
            ),
            "pushes for a commitment now",
        ),
        Detector(
            re.compile(
                r"\b(?:limited[- ]time|today\s+only|(?:offer|price|deal)\s+(?:expires|ends)|"
                r"expires\s+(?:today|tonight|soon)|won'?t\s+last|last\s+chance|"
                r"don'?t\s+(?:want\s+to\s+)?miss\s+(?:out|this)|act\s+(?:now|fast|quickly)|"
                r"before\s+(?:it'?s|they'?re|(?:the|all\s+the)\s+\w+\s+(?:are|is))\s+"
                r"(?:gone|taken|too\s+late)|now\s+or\s+never|"
                r"(?:only|just)\s+(?:\w+\s+){0,2}?(?:spots?|seats?|slots?|tables?|appointments?|"
                r"licen[cs]es?)\s+"
                r"(?:left|remaining))\b",
            ),
            "creates urgency",
        ),
        Detector(
            re.compile(
                r"\b(?:you\s+(?:really\s+)?(?:need|have|ought)\s+to|you\s+must|you'd\s+be\s+crazy"
                r"\s+not\s+to|what\s+would\s+it\s+take\s+(?:for\s+you\s+)?to)\s+(?:\w+\s+){0,2}?"
                r"(?:decide|commit|sign|buy|close|act)\b",
            ),
            "pressures the prospect",
        ),
    ),
)

_COMPETITOR = (
    r"(?:competitors?|competition|rivals?|(?:other|those|another)\s+(?:vendors?|providers?|"
    r"compan(?:y|ies)|tools?|products?|platforms?|solutions?|guys|options?|suppliers?)|"
    r"your\s+(?:current|existing|old)\s+(?:vendor|provider|tool|system|platform|solution|"
    r"software|supplier))"
)
_NEGATIVE = (
    r"(?:bad|terrible|awful|horrible|worse|worst|inferior|poor(?:ly)?|clunky|outdated|obsolete|"
    r"overpriced|unreliable|buggy|slow|useless|junk|garbage|rip[- ]?offs?|scam\w*|shady|"
    r"dishonest|incompetent|amateur\w*|mediocre|sub-?par|lousy|crap\w*|a\s+joke|nightmare|"
    r"falls?\s+short|can'?t\s+compete|can'?t\s+compare|nowhere\s+near|not\s+even\s+close|"
    r"not\s+as\s+good|behind\s+the\s+times|cut\s+corners|hidden\s+fees|sloppy|flaky|"
    r"a\s+disaster|a\s+mess)"
)

COMPETITOR_CRITICISM = Topic(
    name="criticising competitors",
    trigger=re.compile(
        r"\b(?:critici[sz]\w*|disparag\w*|bad[- ]?mouth\w*|bash\w*|trash\w*|knock\w*|"
        r"talk\w*\s+down|speak\w*\s+(?:ill|badly|negatively)|insult\w*|belittl\w*)\b"
        r".*\b(?:competit\w*|rivals?|other\s+(?:vendors|companies|providers|products|tools))",
    ),
    detectors=(
        Detector(
            re.compile(
                rf"\b{_COMPETITOR}\b.*?\b{_NEGATIVE}\b|\b{_NEGATIVE}\b.*?\b{_COMPETITOR}\b",
            ),
            "criticises a competitor",
        ),
    ),
)

LEGAL_ADVICE = Topic(
    name="legal advice",
    trigger=_any_word(r"legal\w*", r"lawyers?", r"law", r"attorneys?", r"lawsuits?"),
    detectors=(
        Detector(
            re.compile(
                r"\byou\s+(?:should|could|can|might\s+want\s+to)\s+(?:sue|file\s+(?:a\s+)?"
                r"(?:lawsuit|claim|complaint)|take\s+(?:them|legal\s+action))"
                r"|\b(?:you\s+have|that's|it's)\s+(?:a\s+)?(?:strong\s+|good\s+|solid\s+)?"
                r"(?:case|grounds)\b|\b(?:illegal|unlawful|liable|liability)\b|\blegally,?\s+you\b"
                r"|\byour\s+(?:legal\s+)?rights\b",
            ),
            "gives legal advice",
        ),
    ),
)

# A trade's diagnosis over the phone ("Don't diagnose the problem over the phone"): what is
# wrong with a car, a boiler, a roof. Medical diagnoses are MEDICAL_ADVICE's.
_FAULT = (
    r"(?:worn(?:\s+out|\s+down)?|broken|failing|bad|shot|dying|dead|leaking|loose|blown|gone|"
    r"going|cracked|faulty|seized|stuck|clogged|out\s+of\s+alignment)"
)
DIAGNOSIS = Topic(
    name="diagnosis",
    trigger=_any_word(r"diagnos\w*"),
    detectors=(
        Detector(
            re.compile(
                rf"\b(?:sounds|seems|looks)\s+like\s+(?:your|the|a|an)\s+(?:[\w-]+\s+){{0,3}}?"
                rf"(?:is|are|'s|'re|needs?|has|have)\s+(?:\w+\s+)?{_FAULT}"
                rf"|\b(?:it|that|this)(?:'s|\s+is|\s+could\s+be|\s+might\s+be)\s+"
                rf"(?:probably|likely|definitely|almost\s+certainly)\s+(?:your|the|a|an)\s+\w+",
            ),
            "suggests what is wrong",
        ),
    ),
)

# Order is the order reasons are reported in when one rule names several topics.
TOPICS: tuple[Topic, ...] = (
    PRICING,
    MEDICAL_ADVICE,
    PROMISES,
    INSURANCE,
    PAYMENT,
    PERSONAL_DATA,
    PRESSURE,
    COMPETITOR_CRITICISM,
    LEGAL_ADVICE,
    DIAGNOSIS,
)

# What a rule's object may be called in a reply: "a specific doctor" is kept by "Dr. Patel".
OBJECT_SYNONYMS: dict[str, str] = {
    "doctor": r"dr\b\.?|doctors?|physicians?|specialists?|surgeons?|dentists?|clinicians?"
    r"|nurse\s+practitioners?",
    "appointment": r"appointments?|slots?|bookings?|times?",
    "refund": r"refund\w*|money\s+back",
    "table": r"tables?|booths?|window\s+(?:seats?|spots?)|patio|terrace|banquettes?",
}

# A clause that refuses or defers ("I can't discuss pricing") mentions a topic without
# breaching it. Bare "can't"/"won't" need a first-person subject, so "it won't cost you much"
# still counts as talking about cost.
REFUSAL = re.compile(
    r"\b(?:(?:i|we)(?:'m|\s+am|'re|\s+are)?\s+(?:really\s+|honestly\s+|just\s+|afraid\s+i\s+)?"
    r"(?:can'?t|cannot|can\s+not|won'?t|will\s+not|couldn'?t|could\s+not|shouldn'?t|"
    r"(?:don'?t|do\s+not)\s+(?:have|know|handle|discuss|give|provide|quote|offer|share|"
    r"comment|make|do|take)\b)"
    r"|unable\s+to|not\s+able\s+to|not\s+allowed\s+to|not\s+permitted\s+to|"
    r"not\s+in\s+a\s+position\s+to|not\s+the\s+right\s+person|"
    r"(?:not|isn'?t)\s+something\s+(?:i|we)|"
    r"rather\s+not|prefer\s+not\s+to|no\s+need\s+to|(?:don'?t|doesn'?t|do\s+not|does\s+not|won'?t|"
    r"will\s+not)\s+(?:need|have)\s+to|not\s+qualified|not\s+authori[sz]ed|no\s+pressure)",
)

# A "Don't ask for …" rule forbids asking, so it is breached by a question or a request, not by
# a mention ("Please bring your insurance card" asks the caller to bring it, not to read it out).
REQUEST = re.compile(
    r"\b(?:what(?:'s|\s+is|\s+are)\s+(?:your|the)|which|who(?:'s|\s+is)\s+your|"
    r"(?:can|could|may)\s+i\s+(?:have|get|take|grab)|"
    r"(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:give|provide|read|tell|share|confirm|"
    r"send|spell)|(?:please\s+)?(?:give|read|tell|send)\s+me|i(?:'ll|\s+will)?\s+need\s+(?:your|"
    r"the|a)|i(?:'d|\s+would)\s+need|let\s+me\s+(?:get|take|have)|do\s+you\s+have|"
    r"please\s+(?:provide|share|confirm))\b",
)
# Verbs that make a don't about asking rather than about mentioning.
REQUEST_VERBS = _any_word(
    r"ask\w*|request\w*|collect\w*|gather\w*|solicit\w*|demand\w*|take|obtain\w*|require\w*"
)
