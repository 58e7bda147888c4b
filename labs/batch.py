"""Grade a course: `kthread-lab grade N --batch DIR`.

DIR holds one folder per submission (its name is the student's id), each with
one gdb command file (`*.gdb`) and at most one answers file (`*.txt` or
`*.md`).  Every submission is graded (labs/grade.py) on its own fresh machine,
several at once (one per core by default: each runs a stub and a gdb), and
gets `ID.json` and `ID.transcript.txt` in the output folder; then `scores.csv`
(one row per submission, a column per test) and `review.csv` (the free-text
answers that passed the pre-screen, for a person to grade).  Everything
written is a function of the submissions and the key: a second run writes the
same bytes.  A submission that is refused by the sandbox, hangs (its guest
instruction deadline stops it), or makes the grader fail is reported in its
row and JSON; the batch goes on.
"""
import concurrent.futures
import csv
import glob
import json
import os
import traceback

from . import LabError
from .grade import grade, read


def _files(folder):
    """(commands, answers or None) of one submission folder, or raise LabError."""
    gdb = sorted(glob.glob(os.path.join(folder, "*.gdb")))
    ans = sorted(glob.glob(os.path.join(folder, "*.txt")) + glob.glob(os.path.join(folder, "*.md")))
    if len(gdb) != 1:
        raise LabError(f"expected one .gdb command file, found {len(gdb)}"
                       + (f" ({', '.join(os.path.basename(g) for g in gdb)})" if gdb else ""))
    if len(ans) > 1:
        raise LabError(f"expected at most one answers file (.txt or .md), found "
                       f"{', '.join(os.path.basename(a) for a in ans)}")
    return gdb[0], (ans[0] if ans else None)


def grade_one(lab, folder, key=None, kernel=None):
    """-> (record dict for ID.json, transcript text)."""
    sid = os.path.basename(folder.rstrip(os.sep))
    rec = {"id": sid, "lab": lab.number, "status": "graded", "score": 0,
           "total": lab.total_points, "tests": [], "review": [], "message": ""}
    try:
        commands, answers = _files(folder)
        result = grade(lab, read(commands), read(answers) if answers else "",
                       kernel=kernel, key=key)
    except LabError as e:       # refused by the sandbox, unreadable, no files
        rec.update(status="rejected", message=str(e))
        return rec, ""
    except Exception as e:      # the grader failed on this one: say so, go on
        rec.update(status="error", message=f"{type(e).__name__}: {e}",
                   traceback=traceback.format_exc())
        return rec, ""
    r = result.replay
    if r.deadline_hit:
        rec["status"] = "deadline"
        rec["message"] = (f"the machine reached the deadline of {r.deadline} guest "
                          "instructions (a command never stopped)")
    elif r.timed_out:
        rec["status"] = "timeout"
        rec["message"] = "gdb was interrupted by the wall-clock backstop"
    rec["score"] = result.score
    if result.notes:
        rec["message"] = "; ".join(filter(None, [rec["message"]] + result.notes))
    rec["tests"] = [{"name": t["name"], "points": t["points"],
                     "earned": t["points"] if ok else 0,
                     "status": "review" if ok == "review" else ("ok" if ok else "fail"),
                     **({} if ok else {"hint": t.get("hint", "")})}
                    for t, ok, _ in result.tests]
    rec["review"] = [{"test": name, "question": q, "answer": text}
                     for name, q, text in result.to_review()]
    return rec, r.transcript


def run(lab, folder, out, key=None, jobs=None, kernel=None, progress=None):
    """Grade every submission folder of `folder` into `out`. -> [record]."""
    if not os.path.isdir(folder):
        raise LabError(f"no such folder: {folder}")
    subs = sorted(os.path.join(folder, d) for d in os.listdir(folder)
                  if os.path.isdir(os.path.join(folder, d)) and not d.startswith("."))
    if not subs:
        raise LabError(f"no submission folders in {folder} (one folder per student, "
                       "holding a .gdb file and an answers file)")
    if os.path.abspath(out) in (os.path.abspath(s) for s in subs):
        raise LabError(f"the output folder {out} is one of the submissions")
    lab.load_key(key)           # a missing key stops the batch before it starts
    if kernel is None:
        from machine.kbuild import ensure_kernel
        kernel = ensure_kernel()
    os.makedirs(out, exist_ok=True)
    jobs = jobs or os.cpu_count() or 1
    records = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(grade_one, lab, s, key, kernel): s for s in subs}
        for fut in concurrent.futures.as_completed(futures):
            rec, transcript = fut.result()
            records[rec["id"]] = rec
            with open(os.path.join(out, rec["id"] + ".json"), "w") as f:
                json.dump(rec, f, indent=1, sort_keys=True)
                f.write("\n")
            with open(os.path.join(out, rec["id"] + ".transcript.txt"), "w") as f:
                f.write(transcript)
            if progress:
                progress(rec)
    ordered = [records[k] for k in sorted(records)]
    names = [t["name"] for t in lab.spec["tests"]]
    with open(os.path.join(out, "scores.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "score", "total", "status"] + names + ["message"])
        for rec in ordered:
            earned = {t["name"]: t["earned"] for t in rec["tests"]}
            w.writerow([rec["id"], rec["score"], rec["total"], rec["status"]]
                       + [earned.get(n, 0) for n in names] + [rec["message"]])
    with open(os.path.join(out, "review.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "test", "question", "answer", "points", "grade"])
        points = {t["name"]: t["points"] for t in lab.spec["tests"]}
        for rec in ordered:
            for item in rec["review"]:
                w.writerow([rec["id"], item["test"], item["question"], item["answer"],
                            points[item["test"]], ""])
    return ordered
