"""Write a synthetic English + Chinese web-like corpus for the cleaning benchmark.

Documents are paragraphs of sentences drawn from Zipf-distributed vocabularies (English pseudo-words
with real function words; common Chinese characters with real particles), with log-normal lengths
(English median ~330 words, Chinese median ~650 characters). Planted, at known rates: exact
duplicates (sometimes with changed case and spacing), near duplicates (a few words changed, a
sentence added), repetitive pages, very short pages and symbol junk. The same seed writes the same bytes.

    python benchmarks/data/make_corpus.py /tmp/data/bench/corpus --docs 100000 --shards 4

writes corpus-0.jsonl … corpus-3.jsonl (consecutive slices, so both tools can split the work by file).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
from collections import Counter
from pathlib import Path

_EN_FUNCTION = ("the of and to a in is that for it as with was on be by at this are from or have an not "
                "but they which one you were all we her she there can their has been if more when will would "
                "who so no what about out up into than them some could other then these its also two after").split()
_ZH_COMMON = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后"
              "多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还"
              "因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结"
              "解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少"
              "图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海"
              "口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达"
              "走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音"
              "众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族"
              "维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严龙飞")
_ZH_PARTICLES = list("的了是在和也就都这有我们")
_SYLLABLES = ("ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge gi go la le li lo lu ma me mi mo mu na ne ni no "
              "pa pe pi po ra re ri ro ru sa se si so su ta te ti to tu va ve vi wa we wi ya zo ter ment tion ing er al "
              "ous ic ent ive ance ly str pl gr tr pr sh ch th").split()


def _zipf(n: int, s: float = 1.07) -> list[float]:
    return list(itertools.accumulate(1 / (i + 1) ** s for i in range(n)))


class Corpus:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        words = set()
        while len(words) < 6000:
            words.add("".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.choice((1, 2, 2, 2, 3, 3, 4)))))
        self.en_words = sorted(words)
        self.rng.shuffle(self.en_words)
        self.en_cum = _zipf(len(self.en_words))
        self.fn_cum = _zipf(len(_EN_FUNCTION), 1.0)
        self.zh_chars = list(_ZH_COMMON)
        self.zh_cum = _zipf(len(self.zh_chars), 0.9)
        self.counts: Counter = Counter()

    def en_sentence(self) -> str:
        r = self.rng
        n = r.randint(8, 26)
        content = r.choices(self.en_words, cum_weights=self.en_cum, k=n)
        function = r.choices(_EN_FUNCTION, cum_weights=self.fn_cum, k=n)
        words = [f if r.random() < 0.45 else c for c, f in zip(content, function)]
        if r.random() < 0.1:
            words.insert(r.randrange(len(words)), str(r.randint(2, 2030)))
        words[0] = words[0].capitalize()
        return " ".join(words) + r.choice(".....?!")

    def zh_sentence(self) -> str:
        r = self.rng
        chars = r.choices(self.zh_chars, cum_weights=self.zh_cum, k=r.randint(10, 40))
        for _ in range(len(chars) // 6):
            chars.insert(r.randrange(len(chars)), r.choice(_ZH_PARTICLES))
        if r.random() < 0.5:
            chars.insert(r.randrange(len(chars)), "，")
        return "".join(chars) + r.choice("。。。。？！")

    def document(self, lang: str) -> str:
        r = self.rng
        target = int(math.exp(r.gauss(math.log(330 if lang == "en" else 650), 0.7)))
        target = max(60, min(target, 8000 if lang == "en" else 15000))
        sentence = self.en_sentence if lang == "en" else self.zh_sentence
        paragraphs, size = [], 0
        while size < target:
            para = (" " if lang == "en" else "").join(sentence() for _ in range(r.randint(2, 6)))
            paragraphs.append(para)
            size += len(para.split()) if lang == "en" else len(para)
        return "\n\n".join(paragraphs)

    def near_copy(self, text: str, lang: str) -> str:
        r = self.rng
        if lang == "en":
            words = text.split(" ")
            for _ in range(max(1, len(words) // 40)):
                words[r.randrange(len(words))] = r.choice(self.en_words)
            return " ".join(words) + " " + self.en_sentence()
        chars = list(text)
        for _ in range(max(1, len(chars) // 60)):
            chars[r.randrange(len(chars))] = r.choice(self.zh_chars)
        return "".join(chars) + self.zh_sentence()

    def junk(self, lang: str) -> str:
        r = self.rng
        kind = r.choice(("repeat", "short", "symbols"))
        self.counts[f"planted_{kind}"] += 1
        if kind == "repeat":
            line = self.en_sentence() if lang == "en" else self.zh_sentence()
            return "\n".join([line] * r.randint(8, 40))
        if kind == "short":
            return self.en_sentence() if lang == "en" else self.zh_sentence()
        return " ".join("".join(r.choices("#$%^&*()_+{}|<>~=-", k=r.randint(3, 9))) for _ in range(r.randint(30, 120)))

    def rows(self, n: int):
        r = self.rng
        recent: list[tuple[str, str]] = []  # documents that later ones may repeat
        for i in range(n):
            roll = r.random()
            if roll < 0.08 and recent:
                text, lang = r.choice(recent)
                if r.random() < 0.5:
                    text = text.replace(". ", ".  ").upper() if lang == "en" else text.replace("。", "。 ")
                self.counts["planted_exact_duplicate"] += 1
            elif roll < 0.16 and recent:
                src, lang = r.choice(recent)
                text = self.near_copy(src, lang)
                self.counts["planted_near_duplicate"] += 1
            else:
                lang = "en" if r.random() < 0.6 else "zh"
                text = self.junk(lang) if roll < 0.21 else self.document(lang)
                if roll >= 0.21:
                    recent.append((text, lang))
                    if len(recent) > 2000:
                        recent.pop(r.randrange(len(recent)))
            self.counts[lang] += 1
            yield {"id": f"doc-{i:07d}", "text": text}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder for the corpus-<i>.jsonl shards")
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    corpus = Corpus(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = corpus.rows(args.docs)
    size = 0
    for shard in range(args.shards):
        n = args.docs // args.shards + (shard < args.docs % args.shards)
        path = args.out / f"corpus-{shard}.jsonl"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for row in itertools.islice(rows, n):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp.replace(path)
        size += path.stat().st_size
    print(json.dumps({"docs": args.docs, "shards": args.shards, "bytes": size, **dict(sorted(corpus.counts.items()))}))


if __name__ == "__main__":
    main()
