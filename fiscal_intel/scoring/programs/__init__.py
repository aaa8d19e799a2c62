"""The scoring programs, one spec each (``omiso.py``, ``inexacto.py``): the only list of them.

Everything else (the risk models, the score assets, the backtest, the run summary) iterates
over :data:`PROGRAMS`; a new program is a new module here plus its feature SQL.
"""

from fiscal_intel.scoring.programs.inexacto import INEXACTO
from fiscal_intel.scoring.programs.omiso import OMISO
from fiscal_intel.scoring.spec import ProgramSpec

# In the order lists are built and printed.
PROGRAMS: dict[str, ProgramSpec] = {spec.name: spec for spec in (OMISO, INEXACTO)}
