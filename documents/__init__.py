"""Letters and the auditor's export.

WeasyPrint logs seven INFO lines per letter (and a few when it is imported): noise in
a worker that renders thousands. Its warnings (a refused resource, a missing glyph)
still show. Set here, before any module imports WeasyPrint.
"""

import logging

logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
