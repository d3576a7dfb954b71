"""`python -m lib evaluate`: the incident detector beside fail2ban and CrowdSec, on the same labeled logs.

For each seed, a labeled log is generated (`lib.synth`: attacks of every kind, and the benign
traffic that fools detectors), then read by

* ours: the pipeline's parser and `lib.incidents` (the same code the notebooks and the API run);
* fail2ban 1.0.2: its ``sshd`` filter and default jail (5 failures in 10 minutes);
* CrowdSec 1.4.6: the ``crowdsecurity/sshd`` parser and ``ssh-bf``/``ssh-slow-bf`` scenarios.

Recall is per attack kind at source level (an attacking address is caught when it is in an
incident, banned, or alerted on); for distributed campaigns, the share of each campaign's
addresses caught (the mean and the worst campaign). Benign sources are every other address in
the log; "flagged" counts those a tool acted on.
"""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

from lib import incidents, parser, peers, synth

TOOLS = ("ours", "fail2ban", "crowdsec")


def _ours(events: list[dict]) -> tuple[dict, list[dict]]:
    found = incidents.detect(incidents.python_attempts(events))
    flagged = {s for i in found for s in i["sources"]}
    sources = {e["src_ip"] or e["src_host"] for e in events if e["category"] == "sshd"} - {None}
    return {"flagged": flagged, "sources": sources}, found


def incident_metrics(events: list[dict], labels: list[dict]) -> dict:
    """Ours alone, as MLflow metrics (the promotion gate reads them): ``incident_recall_<kind>``,
    ``incident_benign_flagged_share``, ``incident_compromise_recall``."""
    r = score(events, labels, {})
    out = {f"incident_recall_{k}": v["ours"] for k, v in r["per_kind"].items()}
    out.update(incident_benign_flagged_share=r["benign_flagged_share"],
               incident_compromise_recall=r["compromise_recall"] if r["compromise_recall"] is not None else 1.0,
               incident_campaign_share_worst=(r["campaigns"]["ours"]["worst"]
                                             if r["campaigns"]["ours"]["worst"] is not None else 1.0))
    return out


def evaluate_log(log: Path, peers_folder: Path = peers.PEERS_DIR, with_peers: bool = True) -> dict:
    """Per-kind recall and benign sources flagged, for each tool, on one labeled log."""
    events = [dict(e, source_file=log.name)
              for e in parser.parse_lines(parser.read_lines(log), year=synth.DEFAULT_START.year)]
    others = {}
    if with_peers:
        others["fail2ban"] = peers.fail2ban_bans(peers.fail2ban_failures(log, peers_folder))
        others["crowdsec"] = {ip for ip, _ in peers.crowdsec_alerts(log, peers_folder)}
    return dict(score(events, synth.read_labels(log), others), log=str(log))


def score(events: list[dict], labels: list[dict], others: dict) -> dict:
    """Ours (on the parsed `events`) and the `others` (tool -> flagged addresses) against `labels`."""
    ours, found = _ours(events)
    flagged = {"ours": ours["flagged"], **others}
    by_kind, campaigns = defaultdict(set), defaultdict(set)
    for lab in labels:
        by_kind[lab["kind"]].add(lab["src_ip"])
        if lab["kind"] == "distributed":
            campaigns[lab["campaign"]].add(lab["src_ip"])
    attackers = {lab["src_ip"] for lab in labels}
    benign = ours["sources"] - attackers
    out = {"benign_sources": len(benign), "attack_sources": len(attackers),
           "incidents": len(found), "per_kind": {}, "benign_flagged": {}, "campaigns": {}}
    for tool, caught in flagged.items():
        for kind, srcs in sorted(by_kind.items()):
            out["per_kind"].setdefault(kind, {})[tool] = round(len(srcs & caught) / len(srcs), 4)
        shares = [len(m & caught) / len(m) for m in campaigns.values()]
        out["campaigns"][tool] = {"mean": round(statistics.mean(shares), 4) if shares else None,
                                  "worst": round(min(shares), 4) if shares else None}
        out["benign_flagged"][tool] = len(benign & caught)
    compromised = by_kind.get("compromise", set())
    got = {i["success_source"] for i in found if i["kind"] == "compromise"}
    ranks = [i["rank"] for i in found]
    out["compromise_recall"] = round(len(compromised & got) / len(compromised), 4) if compromised else None
    worst_compromise = max((i["rank"] for i in found if i["kind"] == "compromise"), default=0)
    best_other = min((i["rank"] for i in found if i["kind"] != "compromise"), default=len(ranks) + 1)
    out["compromises_ranked_first"] = worst_compromise < best_other
    out["benign_flagged_share"] = round(out["benign_flagged"]["ours"] / len(benign), 5) if benign else 0.0
    return out


def run(lines: int, seeds: list[int], folder: Path, with_peers: bool = True) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in seeds:
        log = folder / f"labeled-{lines}-{seed}.log"
        if not log.exists():
            synth.write(log, lines, seed)
        results.append(dict(evaluate_log(log, with_peers=with_peers), seed=seed, lines=lines))
    return results


def table(result: dict) -> str:
    tools = [t for t in TOOLS if t in result["benign_flagged"]]
    head = f"{'kind':<22}" + "".join(f"{t:>10}" for t in tools)
    rows = [head, "-" * len(head)]
    for kind, recall in result["per_kind"].items():
        rows.append(f"{kind:<22}" + "".join(f"{recall[t]:>10.3f}" for t in tools))
    rows.append(f"{'campaign share (worst)':<22}" + "".join(
        f"{result['campaigns'][t]['worst'] if result['campaigns'][t]['worst'] is not None else '-':>10}" for t in tools))
    rows.append(f"{'benign flagged':<22}" + "".join(f"{result['benign_flagged'][t]:>10}" for t in tools))
    rows.append(f"of {result['benign_sources']} benign and {result['attack_sources']} attacking sources; "
                f"compromise recall {result['compromise_recall']}, compromises ranked first: "
                f"{result['compromises_ranked_first']}")
    return "\n".join(rows)


def main(args) -> int:
    results = run(args.lines, args.seeds, Path(args.out), with_peers=not args.no_peers)
    for r in results:
        print(f"\nseed {r['seed']}, {r['lines']:,} lines\n{table(r)}")
    path = Path(args.out) / f"evaluate-{args.lines}-{'-'.join(map(str, args.seeds))}.json"
    path.write_text(json.dumps(results, indent=2))
    if args.tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(args.tracking_uri)
        mlflow.set_experiment("ssh-incident-evaluation")
        for r in results:
            with mlflow.start_run(run_name=f"evaluate-{r['seed']}"):
                mlflow.log_params({"lines": r["lines"], "seed": r["seed"]})
                mlflow.log_metrics({f"recall_{k}_{t}": v for k, d in r["per_kind"].items() for t, v in d.items()}
                                   | {f"benign_flagged_{t}": v for t, v in r["benign_flagged"].items()}
                                   | {"compromise_recall": r["compromise_recall"] or 0.0,
                                      "benign_flagged_share": r["benign_flagged_share"]})
                mlflow.log_dict(r, "evaluation.json")
    print(f"\nwritten to {path}")
    return 0
