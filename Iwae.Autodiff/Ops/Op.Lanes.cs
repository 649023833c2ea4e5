namespace Iwae.Autodiff;

// The 1-D slices ("lanes") a reduction along an axis walks: axis 1 gives R lanes of C contiguous values,
// axis 0 gives C lanes of R values C apart. Shared by LogSumExp and Softmax.
public sealed partial class Tape<T>
{
    private readonly struct Lanes
    {
        public readonly int Count, Length, Step;
        private readonly int _startStride;

        public Lanes(Tensor<T> x, int axis)
        {
            if (axis == 1) { Count = x.Rows; Length = x.Cols; Step = 1; _startStride = x.Cols; }
            else { Count = x.Cols; Length = x.Rows; Step = x.Cols; _startStride = 1; }
        }

        public int Start(int lane) => lane * _startStride;
    }
}
