// Tiles are channel-major [C, count, th, tw]; tile t's top-left corner in its map (h x w) is
// (origins[2t], origins[2t + 1]), possibly outside the map (those pixels are zero padding).
// Decodes tile element i into its channel and map pixel; returns whether the pixel is in the map.
bool tilePixel(uint i, uint origins0, uint count, uint h, uint w, uint th, uint tw, out uint channel, out uint pixel) {
    uint x = i % tw;
    uint y = (i / tw) % th;
    uint ct = i / (tw * th);
    uint t = ct % count;
    channel = ct / count;
    int r = origins[origins0 + 2u * t] + int(y), q = origins[origins0 + 2u * t + 1u] + int(x);
    pixel = uint(r) * w + uint(q);
    return r >= 0 && r < int(h) && q >= 0 && q < int(w);
}
