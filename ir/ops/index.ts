// Loads every op definition into the registry. One file per family of ops.
import './elementwise.ts';
import './reduce.ts';
import './tensor.ts';
import './nn.ts';
import './control.ts';
import './misc.ts';
import './rnn.ts';
import './image.ts';
