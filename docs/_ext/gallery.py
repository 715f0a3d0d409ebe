"""A small gallery: each docs/gallery/*.py example defines ``pair()``, which
returns two images and the options to score them with. At build time this
extension runs every example with the installed ssimfast, writes its heatmap
with ``SSIMReport.save_heatmap`` and a page with the code, the printed report
and the picture (docs/gallery/generated/, rebuilt on every build)."""

import importlib.util
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "gallery"
OUT = HERE / "generated"

PAGE = """\
# {title}

{description}

```{{literalinclude}} ../{name}.py
:language: python
```

What `str(ssimfast.report(im1, im2, **options))` prints:

```text
{report}
```

```{{image}} {name}.png
:alt: {title}: the two images, the SSIM map with the worst regions boxed, and a colour bar
```
"""


def _load(path):
    spec = importlib.util.spec_from_file_location(f"gallery_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(app=None):
    """Run every example; write its picture and page. Returns the page names."""
    import ssimfast

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    names = []
    for path in sorted(HERE.glob("[!_]*.py")):
        module = _load(path)
        title, _, description = (module.__doc__ or path.stem).strip().partition("\n")
        im1, im2, options = module.pair()
        r = ssimfast.report(im1, im2, **options)
        r.save_heatmap(OUT / f"{path.stem}.png", im1, im2)
        (OUT / f"{path.stem}.md").write_text(PAGE.format(
            title=title.strip(), description=description.strip(), name=path.stem,
            report=str(r)))
        names.append(path.stem)
    return names


def setup(app):
    app.connect("builder-inited", render)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
