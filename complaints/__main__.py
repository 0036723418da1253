import sys

from complaints.cli import main

sys.exit(main())
