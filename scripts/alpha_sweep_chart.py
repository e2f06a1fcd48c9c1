"""Chart an α study of `condbench tune` (dev Quality against α, the paper's Fig. 5) as SVG.

    python scripts/alpha_sweep_chart.py --storage sqlite:///results/optuna.sqlite \
        --study NAME -o docs/alpha-sweep.svg

Prints a Markdown table of the complete trials (α, other params, dev Quality) on stdout.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import click
import optuna

WIDTH, HEIGHT, PAD = 560, 320, 56


def _scale(value: float, low: float, high: float, out_low: float, out_high: float) -> float:
    span = (high - low) or 1.0
    return out_low + (value - low) / span * (out_high - out_low)


def render_svg(points: list[tuple[float, float]], title: str) -> str:
    xs = [a for a, _ in points]
    ys = [q for _, q in points]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys) - 0.005, max(ys) + 0.005

    def to_xy(alpha: float, quality: float) -> tuple[float, float]:
        x = _scale(alpha, x_lo, x_hi, PAD, WIDTH - PAD / 2)
        y = _scale(quality, y_lo, y_hi, HEIGHT - PAD, PAD / 2)
        return x, y

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle">{escape(title)}</text>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD / 2}" y2="{HEIGHT - PAD}" stroke="black"/>',
        f'<line x1="{PAD}" y1="{PAD / 2}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="black"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 16}" text-anchor="middle">α</text>',
        f'<text x="14" y="{HEIGHT / 2}" transform="rotate(-90 14 {HEIGHT / 2})" '
        f'text-anchor="middle">dev Quality</text>',
    ]
    for i in range(5):
        alpha = x_lo + (x_hi - x_lo) * i / 4
        quality = y_lo + (y_hi - y_lo) * i / 4
        x, _ = to_xy(alpha, y_lo)
        _, y = to_xy(x_lo, quality)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle">{alpha:.2f}</text>'
        )
        parts.append(f'<text x="{PAD - 6}" y="{y + 4:.1f}" text-anchor="end">{quality:.3f}</text>')
    ordered = sorted(points)
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (to_xy(a, q) for a, q in ordered))
    parts.append(f'<polyline points="{path}" fill="none" stroke="#888" stroke-dasharray="4 3"/>')
    best = max(points, key=lambda p: p[1])
    for alpha, quality in ordered:
        x, y = to_xy(alpha, quality)
        colour = "#d62728" if (alpha, quality) == best else "#1f77b4"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
            f"<title>α={alpha:.3f} Quality={quality:.4f}</title></circle>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


@click.command()
@click.option("--storage", required=True, help="Optuna storage URL of the study.")
@click.option("--study", "study_name", required=True, help="Study name.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(storage: str, study_name: str, output: Path) -> None:
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = [
        t
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE and "alpha" in t.params
    ]
    if not trials:
        raise click.ClickException(f"study {study_name!r} has no complete trial with an alpha")
    points = [(float(t.params["alpha"]), float(t.value)) for t in trials]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_svg(points, f"{study_name}: dev Quality against α"), encoding="utf-8")
    others = sorted({k for t in trials for k in t.params if k != "alpha"})
    click.echo("| trial | α | " + " | ".join(others) + (" | " if others else "") + "dev Quality |")
    click.echo("|---|---|" + "---|" * len(others) + "---|")
    for t in sorted(trials, key=lambda t: t.params["alpha"]):
        extra = " | ".join(str(t.params[k]) for k in others)
        click.echo(
            f"| {t.number} | {t.params['alpha']:.3f} | "
            + (extra + " | " if others else "")
            + f"{t.value:.4f} |"
        )


if __name__ == "__main__":
    main()
