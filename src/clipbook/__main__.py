from clipbook.book.cli import main

raise SystemExit(main())
