"""Reading ELF files: dynamic section, symbol versions, dependency closures and the policy table.

Sub-modules: ``reader`` (one file's facts), ``versions`` (GLIBC/GLIBCXX/CXXABI requirements and
what the host provides), ``resolve`` (dependency closure with the ld.so search rules, through
auditwheel's lddtree), ``policy`` (what is never bundled: glibc, the loader, the GPU driver),
``exports`` (whether a file exports a dynamic symbol), ``archive`` (static archives, GNU and
BSD format, and their members' symbols), ``macho`` (darwin's Mach-O members and dylibs, read
with ``llvm-nm``).
"""
