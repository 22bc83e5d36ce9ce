from closewatch.cli import main

raise SystemExit(main())
