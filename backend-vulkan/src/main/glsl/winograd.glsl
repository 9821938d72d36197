// Winograd F(M x M, 3x3) for M = 2 or 4 (the including kernel defines M): the constant matrices of
// the transforms (Lavin and Gray's), a window of M x M outputs reading an A x A input patch, A = M + 2.
// Frequencies are f = A i + j; the weights' transform G is made on the host (VulkanModel).
const int A = M + 2;
#if M == 2
const float BT[A][A] = float[A][A](float[A](1, 0, -1, 0), float[A](0, 1, 1, 0), float[A](0, -1, 1, 0), float[A](0, 1, 0, -1));
const float AT[M][A] = float[M][A](float[A](1, 1, 1, 0), float[A](0, 1, -1, -1));
#else
const float BT[A][A] = float[A][A](float[A](4, 0, -5, 0, 1, 0), float[A](0, -4, -4, 1, 1, 0), float[A](0, 4, -4, -1, 1, 0),
                                   float[A](0, -2, -1, 2, 1, 0), float[A](0, 2, -1, -2, 1, 0), float[A](0, 4, 0, -5, 0, 1));
const float AT[M][A] = float[M][A](float[A](1, 1, 1, 1, 1, 0), float[A](0, 1, -1, 2, -2, 0), float[A](0, 1, 1, 4, 4, 0),
                                   float[A](0, 1, -1, 8, -8, 1));
#endif
