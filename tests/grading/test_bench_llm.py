"""``bench/grading_quality.py --grader llm`` against a loopback endpoint, end to end.

The bench runs as a subprocess pointed at the fake with ``OPENAI_BASE_URL``, exactly as it would
be pointed at OpenAI or Ollama, on a small Mohler-shaped CSV and a small paraphrase file.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.openai_server import FakeOpenAI, ParsedRequest

REPO = Path(__file__).resolve().parents[2]
REFERENCES = {
    "q1": "Dropout randomly zeroes activations during training so units cannot co-adapt.",
    "q2": "A convolution slides a small learned filter over the input to make a feature map.",
    "q3": "Early stopping ends training when the validation loss stops improving.",
}
ANSWERS = [  # (question, answer, human mean score 0-5)
    ("q1", "Dropout randomly zeroes activations during training so units cannot co-adapt.", 5.0),
    ("q1", "It zeroes some activations during training.", 3.5),
    ("q1", "It makes the network bigger.", 0.5),
    ("q2", "A convolution slides a small learned filter over the input to make a feature map.", 5),
    ("q2", "It slides a filter over the input.", 3.0),
    ("q2", "It sorts the pixels by colour.", 0.0),
    ("q3", "Early stopping ends training when the validation loss stops improving.", 5.0),
    ("q3", "You stop when validation loss stops improving.", 4.0),
    ("q3", "You train for exactly ten epochs.", 1.0),
]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.casefold()) if len(w) > 3}


def reference_judge(request: ParsedRequest) -> dict[str, Any]:
    """Judges agreement with the reference (read from the system prompt) by shared words."""
    reference = request.system.split("REFERENCE ANSWER", 1)[1].split("KEY POINTS", 1)[0]
    answer_words, reference_words = _words(request.answer), _words(reference)
    share = len(answer_words & reference_words) / max(1, len(reference_words))
    status = "covered" if share >= 0.6 else "partial" if share >= 0.25 else "missing"
    evidence = request.answer.split(". ")[0] if status != "missing" else ""
    verdicts = [
        {"index": i, "status": status, "evidence": evidence, "hint": ""}
        for i in range(len(request.key_points))
    ]
    return {"key_points": verdicts, "factual_errors": [], "feedback": "ok"}


async def test_the_bench_grades_mohler_and_the_paraphrase_set_through_an_endpoint(
    tmp_path: Path,
) -> None:
    data = tmp_path / "mohler.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "desired_answer", "student_answer", "score_me",
                         "score_other", "score_avg"])  # fmt: skip
        for qid, answer, score in ANSWERS:
            writer.writerow([qid, f"Question {qid}?", REFERENCES[qid], answer, score, score, score])
    paraphrase = tmp_path / "paraphrase.yaml"
    paraphrase.write_text(
        yaml.safe_dump(
            {
                "questions": [
                    {
                        "id": "regularization-dropout",
                        "split": "test",
                        "answers": {
                            "correct": "Dropout zeroes each unit's output at random during "
                            "training with probability p, so no unit relies on another.",
                            "vague": "Dropout is a popular technique in deep learning.",
                        },
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    async with FakeOpenAI(reference_judge) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test-key"}
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(REPO / "bench" / "grading_quality.py"), "--grader", "llm",
            "--data", str(data), "--paraphrase", str(paraphrase), "--folds", "3",
            "--price-in", "0.15", "--price-out", "0.60", "--no-relatedness", "--model", "o3-mini",
            cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    text = out.decode()
    assert process.returncode == 0, err.decode()[-2000:]
    assert "LLM grader, score / 20" in text and "LLM grader, calibrated (CV)" in text
    assert "QWK" in text and "rho" in text
    assert re.search(r"Mohler: 9 graded, 0 failed; tokens: prompt [\d,]+, completion", text)
    assert "cost" in text and "per 1,000 answers" in text
    assert "Paraphrase set" in text and "correct" in text and "vague" in text
    row = next(line for line in text.splitlines() if line.startswith("LLM grader, score / 20"))
    assert float(row.split()[5]) > 0.8  # Pearson r of a judge that tracks the human scores
    # the model name says "reasoning model": the bench's requests carry its parameters
    assert all("max_completion_tokens" in body for body in server.requests)
    assert len(server.requests) >= 11
