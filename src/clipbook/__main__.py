from clipbook.cli import main

raise SystemExit(main())
