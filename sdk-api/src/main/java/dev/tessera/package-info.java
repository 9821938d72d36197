/** Tessera's public surface. */
@NullMarked
package dev.tessera;

import org.jspecify.annotations.NullMarked;
