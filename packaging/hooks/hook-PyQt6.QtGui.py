"""PyInstaller's own QtGui hook, minus the GTK 3 platform theme plugin (packaging/aurswift.spec).

``platformthemes/libqgtk3.so`` only makes Qt's own widgets look like GTK's; the
window shows web content, and the plugin pulls in GTK 3, GDK, ATK, Cairo and
Pango (about 20 MB). Qt falls back to its built-in theme without it.
"""

import os

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

DROPPED_PLUGINS = {"libqgtk3.so"}

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(src, dest) for src, dest in binaries if os.path.basename(src) not in DROPPED_PLUGINS]
