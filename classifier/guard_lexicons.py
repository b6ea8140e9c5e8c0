# ruff: noqa: E501  (regex fragments read better unbroken)
"""Phrase patterns for the forbidden-advice and regulated-language guards.

Patterns aim at *personalised* advice and *claims*, not at topics: "summarise this article on tax
policy" is fine, "how can I avoid paying tax" is not; "let the epoxy cure overnight" is fine,
"cures diabetes" is not. Matching is case-insensitive.

Each entry is (detector name, anchors, patterns): anchors are distinctive single-word starts (lower
case) and every one of the detector's patterns contains at least one of them, so a text without
any skips the patterns. Patterns run on the lower-cased text, so they are written in lower case.
"""

from __future__ import annotations

from typing import Final

_DRUGS = (
    r"ibuprofen|paracetamol|acetaminophen|tylenol|advil|aspirin|insulin|xanax|adderall|melatonin"
    r"|metformin|oxycodone|morphine|codeine|tramadol|antibiotics?|amoxicillin|prednisone|warfarin"
    r"|sertraline|zoloft|lithium|benadryl|ozempic|valium|diazepam|fentanyl|methadone|medication|medicine|meds"
)
_DOSE_UNITS = r"mg|milligrams?|micrograms?|mcg|ml|pills?|tablets?|capsules?|doses?|units|drops"
_DOSAGE_ANCHORS = (
    "dose",
    "dosage",
    "mg",
    "milligram",
    "microgram",
    "mcg",
    "ml",
    "pill",
    "tablet",
    "capsule",
    "units",
    "drops",
    *_DRUGS.replace("?", "").split("|"),
)
_PERSON = (
    r"i|we|he|she|my (?:\w+[- ])?(?:child|son|daughter|baby|kid|toddler|dog|cat|husband|wife"
    r"|mother|father|mom|dad|partner)"
)
_DISEASES = (
    r"cancer|diabetes|covid(?:-19)?|alzheimer'?s|arthritis|depression|anxiety|autism|hiv|aids"
    r"|obesity|asthma|dementia|hypertension|infections?|diseases?|illness(?:es)?|insomnia|acne"
    r"|eczema|psoriasis|migraines?|adhd|tumou?rs?|parkinson'?s"
)
_ASSETS = (
    r"stocks?|shares|crypto(?:currenc(?:y|ies))?|bitcoin|coins?|tokens?|funds?|etfs?|bonds?|gold"
)

LEXICONS: Final[tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = (
    (
        "forbidden_advice.investment",
        (
            "invest",
            "stock",
            "share",
            "crypto",
            "bitcoin",
            "coin",
            "token",
            "fund",
            "etf",
            "bond",
            "gold",
            "savings",
            "retirement",
            "401",
            "pension",
            "ira",
            "inheritance",
        ),
        (
            r"\bshould i (?:buy|sell|short|invest in|hold|dump) (?:(?:more|some|my|all|any|the) )*"
            rf"(?:\w+ )?(?:{_ASSETS})\b",
            r"\bshould i invest\b",
            rf"\bwhich (?:{_ASSETS}) should (?:i|we) (?:buy|sell|invest|pick|hold)\b",
            r"\bhow much (?:money |of my (?:savings|salary|income|pension|money|paycheck) )?"
            r"should i (?:invest|put into|allocate)\b",
            rf"\bgood time (?:for me )?to (?:buy|sell) (?:\w+ )?(?:{_ASSETS})\b",
            r"\bgood time (?:for me )?to invest\b",
            r"\b(?:put|move|invest) (?:all )?my (?:life )?(?:savings|retirement(?: fund| money)?|401\(?k\)?"
            r"|pension|ira|inheritance|emergency fund) (?:in|into)\b",
        ),
    ),
    (
        "forbidden_advice.tax",
        ("tax", "irs", "hmrc", "deduct", "expense"),
        (
            r"\bhow (?:can|do|could|should) i (?:avoid|evade|dodge|reduce|lower|minimi[sz]e|get out of)"
            r" (?:paying )?(?:my |any |the |less )?(?:income |capital gains |property |inheritance )?tax(?:es)?\b",
            r"\b(?:should|can|could) i (?:deduct|write off|claim)\b[^.?!\n]{0,60}?"
            r"\b(?:tax(?:es)?|tax return|deductions?|business expenses?)\b",
            r"\bhide (?:my )?(?:money|income|assets|earnings|cash|crypto) from (?:the )?"
            r"(?:irs|hmrc|tax(?:man| authorit(?:y|ies)| office)?)\b",
            r"\bdo i (?:have to|need to) (?:pay|declare|report)\b[^.?!\n]{0,30}?\btax(?:es)?\b",
        ),
    ),
    (
        "forbidden_advice.medical_dosage",
        _DOSAGE_ANCHORS,
        (
            rf"\bhow (?:much|many) (?:\w+ ){{0,3}}?(?:{_DOSE_UNITS}|{_DRUGS})\b[^.?!\n]{{0,30}}?"
            rf"\b(?:should|can|could|do|must|may) (?:{_PERSON}) (?:take|give|have|use)\b",
            rf"\b(?:what|which) (?:dose|dosage) (?:of (?:\w+ ){{1,3}})?(?:should|can|do) (?:{_PERSON})\b",
            rf"\b(?:double|increase|decrease|lower|stop|skip|halve) (?:my|his|her) (?:dose|dosage|{_DRUGS})\b",
            r"\b(?:dose|dosage) (?:of (?:\w+ ){1,3})?for my (?:\d+[- ]?(?:year|month|week)s?[- ]?old )?"
            r"(?:\w+ )?(?:child|son|daughter|baby|kid|toddler|dog|cat|husband|wife|mother|father|mom|dad)\b",
            rf"\b(?:can|should) (?:{_PERSON}) (?:take|mix) (?:\w+ )?(?:{_DRUGS})\b[^.?!\n]{{0,30}}?\b(?:with|and)\b",
        ),
    ),
    (
        "forbidden_advice.legal_strategy",
        (
            "lawsuit",
            "court",
            "case",
            "custody",
            "eviction",
            "charge",
            "ticket",
            "divorce",
            "subpoena",
            "deposition",
            "dui",
            "dwi",
            "restraining",
            "prosecut",
            "sue",
            "countersue",
            "plead",
            "settle",
            "bankruptcy",
            "complaint",
            "judge",
            "police",
            "jury",
            "officer",
            "arbitrator",
            "legal",
        ),
        (
            r"\bhow (?:do|can|could|should) (?:i|we) (?:win|beat|fight|get out of|get off|avoid|dodge|contest)"
            r" (?:my |a |the |this |an |our )?(?:\w+ )?(?:lawsuit|court case|case against|custody(?: battle| case)?"
            r"|eviction|charges?|(?:speeding|parking|traffic) ticket|divorce|subpoena|deposition|dui|dwi"
            r"|restraining order|prosecution)\b",
            r"\bshould (?:i|we) (?:sue|countersue|plead(?: guilty| not guilty| the fifth)?|settle (?:the|my|this|out of court)"
            r"|file (?:a )?(?:lawsuit|suit|for divorce|for bankruptcy|a complaint against))\b",
            r"\bwhat should (?:i|we) (?:say|tell|admit|argue) (?:to |in front of )?(?:the |my )?"
            r"(?:judge|court|police|jury|prosecutor|officer|arbitrator)\b",
            r"\bhow (?:do|can) (?:i|we) (?:sue|take legal action against)\b",
        ),
    ),
    (
        "regulated_language.guaranteed_returns",
        ("guarantee", "double", "triple", "lose"),
        (
            r"\bguarantee(?:d|s)? (?:\d+(?:\.\d+)?% )?(?:annual |monthly |weekly |high |steady |fixed |daily )?"
            r"(?:returns?|profits?|income|gains|yields?|payouts?|roi)\b",
            r"\b(?:returns?|profits?|gains|income|yields?|payouts?) (?:are |is )?(?:100% )?guaranteed\b",
            r"\b(?:double|triple) your (?:money|investment|savings|bitcoin|crypto|income)\b",
            r"\b(?:can'?t|cannot|can not|never|won'?t) lose (?:any )?money\b",
        ),
    ),
    (
        "regulated_language.risk_free",
        ("risk",),
        (
            r"\b(?:100% |completely |totally |absolutely |entirely )?risk[- ]?free (?:investments?|returns?"
            r"|profits?|income|opportunit(?:y|ies)|trades?|trading|offers?|gains|bets?|strateg(?:y|ies)"
            r"|way to (?:earn|make|invest|grow))\b",
            r"\b(?:100%|completely|totally|absolutely|entirely) risk[- ]?free\b",
            r"\b(?:zero|no) risk (?:investments?|returns?|opportunit(?:y|ies)|(?:of|to) (?:losing|loss))\b",
        ),
    ),
    (
        "regulated_language.medical_claim",
        (
            "cure",
            "curing",
            "heal",
            "reverse",
            "prevent",
            "miracle",
            "natural",
            "permanent",
            "instant",
            "fda",
            "clinically",
        ),
        (
            rf"\b(?:cures?|cured|curing|heals?|reverses?|prevents?) (?:\w+ ){{0,2}}?(?:{_DISEASES})\b",
            rf"\bcure for (?:\w+ ){{0,2}}?(?:{_DISEASES})\b",
            r"\b(?:miracle|natural|permanent|guaranteed|instant) cure\b",
            r"\bfda[- ]?(?:approved|cleared|certified)\b",
            r"\bapproved by the fda\b",
            r"\bclinically (?:proven|tested|shown) to\b",
        ),
    ),
    (
        "regulated_language.credit_decision",
        ("loan", "credit", "mortgage", "financing", "overdraft", "underwriting"),
        (
            r"\b(?:approve|deny|reject|decline|refuse)(?:s|d|ing)? (?:(?:this|the|his|her|their|my|an?|our) )?"
            r"(?:\w+ )?(?:loan|credit|mortgage|credit card|financing|overdraft)(?: limit)? "
            r"(?:applications?|requests?|applicants?)\b",
            r"\b(?:decide|determine|assess|evaluate) (?:whether|if) (?:to |we should )?"
            r"(?:approve|grant|extend|deny|offer) (?:(?:the|a|this|him|her|them) )?(?:\w+ )?(?:loan|credit|mortgage|financing)\b",
            r"\b(?:credit ?worthiness|credit decision|credit approval|loan approval|loan eligibility"
            r"|credit eligibility|underwriting decision)s?\b",
        ),
    ),
)
