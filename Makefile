# Build and install libaadtoken for C and C++ programs (and the Java jar).
#
#   make                                  cargo build --release (the .so and .a only: see build)
#   make install [PREFIX=/usr/local] [DESTDIR=staging]
#   make install PREFIX=/tmp/p PROFILE=debug NO_BUILD=1     install an existing target/debug build
#   make uninstall [PREFIX=...]
#   make java                             target/java/aadtoken.jar (libaadtoken.so inside) and
#                                         target/java/aadtoken-ojdbc.jar (needs a JDK and Maven)
#   make install-java                     both in $(PREFIX)/share/java
#
# Installs:
#   $(LIBDIR)/libaadtoken.so.X.Y.Z        the shared library (soname libaadtoken.so.X)
#   $(LIBDIR)/libaadtoken.so.X -> .so.X.Y.Z,  libaadtoken.so -> .so.X
#   $(LIBDIR)/libaadtoken.a               the static library (link with -lpthread -ldl -lm)
#   $(INCLUDEDIR)/aadtoken.h
#   $(PKGCONFIGDIR)/aadtoken.pc           pkg-config --cflags --libs aadtoken

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DATADIR      ?= $(PREFIX)/share
PROFILE      ?= release
CARGO        ?= cargo
INSTALL      ?= install
MVN          ?= mvn

TARGET_DIR := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)
BUILD_DIR  := $(TARGET_DIR)/$(PROFILE)
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR      := $(word 1,$(subst ., ,$(VERSION)))
# In aadtoken.pc, directories under PREFIX are written relative to ${prefix}.
PC_LIBDIR     := $(patsubst $(PREFIX)%,$${prefix}%,$(LIBDIR))
PC_INCLUDEDIR := $(patsubst $(PREFIX)%,$${prefix}%,$(INCLUDEDIR))
CARGO_FLAGS := $(if $(filter release,$(PROFILE)),--release,$(if $(filter debug,$(PROFILE)),,--profile $(PROFILE)))

all: build

# The shared and the static library without the rlib the tests use: built in the same
# compilation as the rlib (as `cargo build` does), the shared library keeps code only the rlib
# needs and is ~1 MB bigger (BENCHMARKS.md, "Library size").
build:
	$(CARGO) rustc -p aadtoken --lib $(CARGO_FLAGS) --crate-type cdylib --crate-type staticlib

install: $(if $(NO_BUILD),,build)
	@test -f $(BUILD_DIR)/libaadtoken.so || { echo "$(BUILD_DIR)/libaadtoken.so not found: run make (or cargo build) first" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 0755 $(BUILD_DIR)/libaadtoken.so $(DESTDIR)$(LIBDIR)/libaadtoken.so.$(VERSION)
	ln -sfn libaadtoken.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libaadtoken.so.$(MAJOR)
	ln -sfn libaadtoken.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libaadtoken.so
	$(INSTALL) -m 0644 $(BUILD_DIR)/libaadtoken.a $(DESTDIR)$(LIBDIR)/libaadtoken.a
	$(INSTALL) -m 0644 include/aadtoken.h $(DESTDIR)$(INCLUDEDIR)/aadtoken.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(PC_LIBDIR)|' -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' aadtoken.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/aadtoken.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/aadtoken.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libaadtoken.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libaadtoken.so.$(MAJOR) \
	      $(DESTDIR)$(LIBDIR)/libaadtoken.so $(DESTDIR)$(LIBDIR)/libaadtoken.a \
	      $(DESTDIR)$(INCLUDEDIR)/aadtoken.h $(DESTDIR)$(PKGCONFIGDIR)/aadtoken.pc \
	      $(DESTDIR)$(DATADIR)/java/aadtoken.jar $(DESTDIR)$(DATADIR)/java/aadtoken-ojdbc.jar

# The Maven build (bindings/java/pom.xml) with this profile's library inside the jar; the tests
# run in `scripts/test.sh` (`mvn -f bindings/java/pom.xml verify`).
java: $(if $(NO_BUILD),,build)
	$(MVN) -B -q -f bindings/java/pom.xml package -DskipTests -Daadtoken.nativeDir=$(abspath $(BUILD_DIR))
	mkdir -p $(TARGET_DIR)/java
	cp bindings/java/aadtoken/target/aadtoken-$(VERSION).jar $(TARGET_DIR)/java/aadtoken.jar
	cp bindings/java/aadtoken-ojdbc/target/aadtoken-ojdbc-$(VERSION).jar $(TARGET_DIR)/java/aadtoken-ojdbc.jar

install-java: java
	$(INSTALL) -d $(DESTDIR)$(DATADIR)/java
	$(INSTALL) -m 0644 $(TARGET_DIR)/java/aadtoken.jar $(DESTDIR)$(DATADIR)/java/aadtoken.jar
	$(INSTALL) -m 0644 $(TARGET_DIR)/java/aadtoken-ojdbc.jar $(DESTDIR)$(DATADIR)/java/aadtoken-ojdbc.jar

.PHONY: all build install uninstall java install-java
