export { main } from './program';
