from batchmark.cli import main

main()
